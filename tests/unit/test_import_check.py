"""The import page's check: the sample of a big file it dry-runs."""

from __future__ import annotations

from ui.import_check import sample_of


def test_the_check_s_sample_of_a_mixed_encoding_file_reads_each_row_right() -> None:
    rows = "Renée,r@x.com\r\n".encode("cp1252") + "Zoë,z@x.com\r\n".encode() * 6_000
    sample, cut = sample_of(b"firstName,email\r\n" + rows, "utf-8", ",")
    assert cut
    assert sample.decode("utf-8").splitlines()[1:3] == ["Renée,r@x.com", "Zoë,z@x.com"]
