"""When the upload status page keeps refreshing by itself: while an import runs, and after a
cancel for as long as the API says the report is coming, however long that takes; never
for an import whose report is there or will not come."""

from __future__ import annotations

import pytest

from ui.job_text import settling


@pytest.mark.parametrize(
    ("status", "report", "changing"),
    [
        ("pending", "coming", True),
        ("in_progress", "coming", True),
        ("cancelled", "coming", True),  # batches may still write: it waits as long as it takes
        ("cancelled", "ready", False),
        ("cancelled", "none", False),  # given up: the page says why, and stops
        ("completed", "ready", False),
        ("completed", "none", False),  # its files expired
        ("failed", "none", False),
    ],
)
def test_the_page_refreshes_while_the_job_or_its_report_is_coming(
    status: str, report: str, changing: bool
) -> None:
    assert settling({"status": status, "reportStatus": report}) is changing
