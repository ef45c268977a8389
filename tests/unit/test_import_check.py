"""The import page's check: the sample of a big file it dry-runs."""

from __future__ import annotations

import io

from domain.tabular import open_table
from ui.import_check import SAMPLE_ROWS, sample_of


def test_the_check_s_sample_of_a_mixed_encoding_file_reads_each_row_right() -> None:
    rows = "Renée,r@x.com\r\n".encode("cp1252") + "Zoë,z@x.com\r\n".encode() * 6_000
    sample, cut = sample_of(b"firstName,email\r\n" + rows, "utf-8", ",")
    assert cut
    # The sample is the file's own bytes, read as the import reads the file.
    read = [row.values for row in open_table(io.BytesIO(sample))]
    assert read[:2] == [["Renée", "r@x.com"], ["Zoë", "z@x.com"]]
    assert len(read) == SAMPLE_ROWS


def test_the_sample_ends_after_a_whole_record_and_a_small_file_is_sent_whole() -> None:
    header = b"firstName,notes\r\n"
    multi_line = b'Ann,"two\r\nlines"\r\n'
    content = header + multi_line * (SAMPLE_ROWS + 1)
    sample, cut = sample_of(content, "utf-8", ",")
    assert cut and sample == header + multi_line * SAMPLE_ROWS
    assert sample_of(header + multi_line * SAMPLE_ROWS, "utf-8", ",") == (
        header + multi_line * SAMPLE_ROWS,
        False,
    )
    wide = ("firstName;email\r\n" + "Zoë;z@x.com\r\n" * (SAMPLE_ROWS + 3)).encode("utf-16")
    sample, cut = sample_of(wide, "utf-16", ";")
    assert cut
    assert [row.values for row in open_table(io.BytesIO(sample))][-1] == ["Zoë", "z@x.com"]
    assert sample.decode("utf-16").count("\r\n") == SAMPLE_ROWS + 1
