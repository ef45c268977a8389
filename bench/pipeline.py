"""Rows per second of the pure import pipeline on one core: read the CSV, suggest the
mapping, validate and normalise every row.

    .venv/bin/python -m bench.pipeline [--rows 100000]

The file is generated in memory-backed temporary storage: names, two emails and two phones
per row, every value unique (as in real files, so no cache helps).
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import tempfile
import time

from domain.csvfile import CsvReader
from domain.mapping import resolve_mapping, suggest_mapping
from domain.schema import DEFAULT_CUSTOMER_SCHEMA
from domain.validation import RowValidator

HEADER = ["First Name", "Last Name", "Email", "Work Email", "Mobile Phone", "Home Phone", "City"]
SAMPLE_ROWS = 5
CITIES = ["Boston", "Seattle", "Austin", "Denver", "Chicago"]
# US area codes that phonenumbers accepts as valid numbers.
AREA_CODES = ["202", "206", "212", "303", "312", "415", "512", "617"]


def generate(rows: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for i in range(rows):
        area = AREA_CODES[i % len(AREA_CODES)]
        writer.writerow(
            [
                f"First{i}",
                f"Last{i}",
                f"person{i}@example.com",
                f"Person.{i}@Work-Mail.example.org",
                f"+1 {area} {200 + i // 10000:03d} {i % 10000:04d}",
                f"+1 ({area}) {300 + i // 10000:03d}-{i % 10000:04d}",
                CITIES[i % len(CITIES)],
            ]
        )
    return buffer.getvalue().encode()


def run(rows: int) -> tuple[float, int, int]:
    """(seconds, valid rows, failed rows) for one pass over a generated file."""
    content = generate(rows)
    with tempfile.TemporaryFile() as upload:
        upload.write(content)
        upload.seek(0)
        started = time.perf_counter()
        reader = CsvReader(upload)
        csv_rows = iter(reader)
        sample = list(itertools.islice(csv_rows, SAMPLE_ROWS))
        schema = DEFAULT_CUSTOMER_SCHEMA
        suggestions = suggest_mapping(reader.header, [r.values for r in sample], schema)
        mapping = resolve_mapping(reader.header, suggestions, None, schema)
        plan = RowValidator(schema).plan(reader.header, mapping)
        valid = failed = 0
        for row in itertools.chain(sample, csv_rows):
            if row.error or plan.validate(row.values).errors:
                failed += 1
            else:
                valid += 1
        return time.perf_counter() - started, valid, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    seconds, valid, failed = run(args.rows)
    total = valid + failed
    print(f"{total} rows ({valid} valid, {failed} failed) in {seconds:.2f} s")
    print(f"{total / seconds:,.0f} rows/s on one core")


if __name__ == "__main__":
    main()
