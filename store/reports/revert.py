"""The revert's own report: what it did, and the customers it left as they are (conflicts)
with the reason. Written by store.reports.xlsx and stored in GridFS like an import's."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime
from typing import Any

from store import files
from store.customers import revert_notes
from store.documents import ImportJob, RevertCounts
from store.reports.excel import REPORT_CONTENT_TYPE
from store.reports.xlsx import XlsxWriter, as_text


async def build_revert_report(
    revert: ImportJob, original: ImportJob, counts: RevertCounts, finished: datetime
) -> Any:
    """Write the report of a revert to GridFS; returns its file id."""
    with XlsxWriter() as workbook, tempfile.TemporaryFile() as target:
        summary = workbook.sheet("Summary", ["Summary", "Count"])
        for label, value in (
            ("Total Customers", counts.total),
            ("Deleted", counts.deleted),
            ("Restored", counts.restored),
            ("Conflicts", counts.conflicts),
        ):
            summary.append([label, value])
        summary.append([])
        for label, text in (
            ("Reverted import", str(original.id)),
            ("File name", original.file_name),
            ("Import's action", original.action),
            ("Reverted by", revert.created_by),
            ("Finished", finished.isoformat()),
        ):
            summary.append([label, as_text(text)])
        conflicts = workbook.sheet("Conflicts", ["Customer id", "Reason"])
        async for doc in revert_notes.conflicts(str(original.id), str(revert.id)):
            reason = (doc.get("revert") or {}).get("reason")
            conflicts.append([as_text(doc["customer_id"]), as_text(reason)])
        # In a thread, as the import's report: the event loop keeps renewing the lease.
        await asyncio.to_thread(workbook.save, target)
        target.seek(0)
        return await files.save_stream(
            files.reports(),
            f"revert-{revert.id}.xlsx",
            target,
            {"jobId": str(revert.id), "contentType": REPORT_CONTENT_TYPE},
        )
