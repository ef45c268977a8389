"""Report writing: an import's Excel report (workbook) and failed-rows CSV (failed_rows), both
listing rows by CSV row number in bounded memory (rows, spill), and a revert's report
(revert). The words of a report's rows are domain.report_rows'; the Excel cells are excel's."""

from store.reports.excel import REPORT_CONTENT_TYPE
from store.reports.failed_rows import failed_rows_csv
from store.reports.revert import build_revert_report
from store.reports.workbook import build_report

__all__ = ["REPORT_CONTENT_TYPE", "build_report", "build_revert_report", "failed_rows_csv"]
