"""Deterministic customer CSV files for the benchmarks, streamed to disk row by row.

Columns `firstName,lastName,email,phoneNumber,city`: an email cell holds one or two emails
and a phone cell one or two phones, separated by `|`. Every identifier value is unique across
a file (and across the seed and duplicates files, except where a row is meant to match).

Phones are valid US numbers (`phonenumbers.is_valid_number` accepts every area code and
exchange used here) spread over 16 area codes x 800 exchanges x 10,000 lines by a fixed
permutation, written in three notations (E.164, spaced, national with parentheses).

A "50% duplicates" case is two files: the seed (rows 0 .. N/2-1, imported first) and the
duplicates file of N rows whose first half matches the seed rows by email (same emails; some
with another city, some with an extra phone) and whose second half is new (rows N/2 .. N-1,
exactly the rows an all-new file of N rows holds there).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HEADER = ["firstName", "lastName", "email", "phoneNumber", "city"]
SEPARATOR = "|"

AREA_CODES = [
    "202", "206", "212", "213", "303", "305", "312", "404",
    "415", "512", "617", "702", "713", "718", "801", "919",
]  # fmt: skip
EXCHANGES = 800  # 200 .. 999
LINES = 10_000
PHONE_SPACE = len(AREA_CODES) * EXCHANGES * LINES  # 128,000,000 = 2**13 * 5**6
PHONE_MULTIPLIER = 2_654_435_761  # odd and not a multiple of 5: a bijection modulo the space
PHONE_OFFSET = 40_503_001
EXTRA_PHONE_BASE = 64_000_000  # phone indexes from here on are the duplicates' extra phones

FIRST_NAMES = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty",
    "Anthony", "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Paul",
    "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Zoë", "José", "Chloé", "Björn",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "O'Brien", "Müller", "Dubois",
]  # fmt: skip
CITIES = [
    "Boston", "Seattle", "Austin", "Denver", "Chicago", "New York", "San Francisco", "Atlanta",
    "Miami", "Portland", "Phoenix", "Dallas", "Houston", "Philadelphia", "San Diego",
    "Minneapolis", "Detroit", "Nashville", "Salt Lake City", "Washington",
]  # fmt: skip
DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "inbox.example.io"]
WORK_DOMAINS = ["work.example.com", "biz.example.org", "office.example.net"]


@dataclass(frozen=True)
class Phone:
    area: str
    exchange: int
    line: int

    @property
    def e164(self) -> str:
        return f"+1{self.area}{self.exchange:03d}{self.line:04d}"

    def written(self, style: int) -> str:
        if style == 0:
            return self.e164
        if style == 1:
            return f"+1 {self.area} {self.exchange:03d} {self.line:04d}"
        return f"+1 ({self.area}) {self.exchange:03d}-{self.line:04d}"


def phone(index: int) -> Phone:
    """The phone of a phone index (0 <= index < PHONE_SPACE); distinct indexes, distinct
    phones."""
    p = (index * PHONE_MULTIPLIER + PHONE_OFFSET) % PHONE_SPACE
    area, rest = p % len(AREA_CODES), p // len(AREA_CODES)
    return Phone(AREA_CODES[area], 200 + rest % EXCHANGES, rest // EXCHANGES)


@dataclass(frozen=True)
class Person:
    """One data row: the cells as written, and the values normalised as the product stores
    them (emails lower-cased, phones in E.164)."""

    first_name: str
    last_name: str
    emails: list[str]  # as written
    phones: list[Phone]
    city: str
    number: int  # the row index it was made from

    def cells(self) -> list[str]:
        written = [p.written((self.number + k) % 3) for k, p in enumerate(self.phones)]
        return [
            self.first_name,
            self.last_name,
            SEPARATOR.join(self.emails),
            SEPARATOR.join(written),
            self.city,
        ]

    def attributes(self) -> dict[str, Any]:
        return {
            "firstName": self.first_name,
            "lastName": self.last_name,
            "email": [e.lower() for e in self.emails],
            "phoneNumber": [p.e164 for p in self.phones],
            "city": self.city,
        }


def person(i: int) -> Person:
    """Row `i` as it is first imported: one or two emails, one or two phones."""
    first = FIRST_NAMES[i % len(FIRST_NAMES)]
    last = LAST_NAMES[(i // len(FIRST_NAMES) + i) % len(LAST_NAMES)]
    local = f"{first}.{last}{i}".replace("'", "").replace(" ", "")
    local = local.lower() if i % 4 else local  # some written with capitals
    local = local.encode("ascii", "ignore").decode() or f"user{i}"
    emails = [f"{local}@{DOMAINS[i % len(DOMAINS)]}"]
    if i % 3 == 0:  # '_' never appears in a first email: the two forms never collide
        ascii_last = last.encode("ascii", "ignore").decode().replace("'", "")
        domain = WORK_DOMAINS[(i // 3) % len(WORK_DOMAINS)]
        emails.append(f"{first[0].lower()}{ascii_last.lower()}_{i}@{domain}")
    phones = [phone(2 * i)]
    if i % 2 == 0:
        phones.append(phone(2 * i + 1))
    return Person(first, last, emails, phones, CITIES[i % len(CITIES)], i)


def duplicate(i: int) -> Person:
    """Row `i` again, matching `person(i)` by email: every other one moved to another city,
    the ones with one phone given an extra, never used phone."""
    base = person(i)
    city = CITIES[(i + 7) % len(CITIES)] if i % 2 else base.city
    phones = base.phones if len(base.phones) > 1 else [*base.phones, phone(EXTRA_PHONE_BASE + i)]
    return Person(base.first_name, base.last_name, base.emails, phones, city, i)


def people(rows: int) -> Iterator[Person]:
    """The rows of an all-new file of `rows` rows."""
    return (person(i) for i in range(rows))


def duplicate_people(rows: int) -> Iterator[Person]:
    """The rows of a 50% duplicates file: rows//2 duplicates of the seed, then new rows."""
    half = rows // 2
    yield from (duplicate(i) for i in range(half))
    yield from (person(i) for i in range(half, rows))


def write_csv(path: Path, rows: Iterator[Person]) -> int:
    """Stream `rows` to `path`; returns the number of data rows written."""
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow(row.cells())
            count += 1
    return count


def check_size(rows: int) -> None:
    """Row phones use indexes 0 .. 2*rows-1, extra phones EXTRA_PHONE_BASE + i: no overlap."""
    if not 0 < rows <= EXTRA_PHONE_BASE // 2:
        raise ValueError(f"rows must be between 1 and {EXTRA_PHONE_BASE // 2}")


def all_new_file(directory: Path, rows: int) -> Path:
    check_size(rows)
    path = directory / f"new-{rows}.csv"
    if not path.exists():
        write_csv(path, people(rows))
    return path


def duplicates_files(directory: Path, rows: int) -> tuple[Path, Path]:
    """(seed file of rows//2 rows, 50% duplicates file of `rows` rows)."""
    check_size(rows)
    seed, dups = directory / f"seed-{rows // 2}.csv", directory / f"dup50-{rows}.csv"
    if not seed.exists():
        write_csv(seed, people(rows // 2))
    if not dups.exists():
        write_csv(dups, duplicate_people(rows))
    return seed, dups


def all_matching_file(directory: Path, rows: int) -> Path:
    """Every row a duplicate of the all-new file's row (all_new_file, the seed)."""
    check_size(rows)
    path = directory / f"dup100-{rows}.csv"
    if not path.exists():
        write_csv(path, (duplicate(i) for i in range(rows)))
    return path


def customer_documents(start: int, stop: int) -> list[dict[str, Any]]:
    """Customer documents (already normalised, the product's shape) for rows start..stop-1."""
    now = datetime.now(UTC)
    return [
        {"attributes": person(i).attributes(), "created_at": now, "updated_at": now, "rev": 1}
        for i in range(start, stop)
    ]
