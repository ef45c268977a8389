"""The revert's own report: what it did, and the customers it left as they are (conflicts)
with the reason. Written in openpyxl's write-only mode and stored in GridFS like an import's."""

from __future__ import annotations

import tempfile
from datetime import datetime
from typing import Any

from openpyxl import Workbook

from store import files
from store.customers import revert_notes
from store.documents import ImportJob, RevertCounts
from store.reports.excel import REPORT_CONTENT_TYPE, header_row, text_cell


async def build_revert_report(
    revert: ImportJob, original: ImportJob, counts: RevertCounts, finished: datetime
) -> Any:
    """Write the report of a revert to GridFS; returns its file id."""
    workbook = Workbook(write_only=True)
    summary = workbook.create_sheet("Summary")
    header_row(summary, ["Summary", "Count"])
    for label, value in (
        ("Total Customers", counts.total),
        ("Deleted", counts.deleted),
        ("Restored", counts.restored),
        ("Conflicts", counts.conflicts),
    ):
        summary.append([text_cell(summary, label), value])
    summary.append([])
    for label, text in (
        ("Reverted import", str(original.id)),
        ("File name", original.file_name),
        ("Import's action", original.action),
        ("Reverted by", revert.created_by),
        ("Finished", finished.isoformat()),
    ):
        summary.append([text_cell(summary, label), text_cell(summary, text)])
    conflicts = workbook.create_sheet("Conflicts")
    header_row(conflicts, ["Customer id", "Reason"])
    async for doc in revert_notes.conflicts(str(original.id), str(revert.id)):
        reason = (doc.get("revert") or {}).get("reason")
        conflicts.append([text_cell(conflicts, doc["customer_id"]), text_cell(conflicts, reason)])
    with tempfile.TemporaryFile() as target:
        workbook.save(target)
        target.seek(0)
        return await files.save_stream(
            files.reports(),
            f"revert-{revert.id}.xlsx",
            target,
            {"jobId": str(revert.id), "contentType": REPORT_CONTENT_TYPE},
        )
