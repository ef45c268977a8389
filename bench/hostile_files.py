"""What hostile files cost the API: `POST /imports/mapping` time and the API's RSS growth for
each workbook bomb (a declared dimension of 16,384 x 20,000 cells, two million blank rows,
a huge table of shared strings, an entity bomb) and a 160 MB CSV with no line end.

    flock /work/locks/bench.lock .venv/bin/python -m bench.hostile_files

Each file is sent on its own API (and workers), on a freshly dropped database; the API's RSS
is sampled every 20 ms while the request runs. Targets (issue 19): under 2 s and under
100 MiB of growth each. Prints one line per file, as a Markdown table."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from bench.harness import API_KEY, MIB, AppStack, start_servers
from stack.processes import Child, stop_all
from tests.helpers import raw_xlsx, rewritten_xlsx

HEADER = b'<row r="1"><c r="A1" t="inlineStr"><is><t>firstName</t></is></c></row>'
DATA = b'<row r="2"><c r="A2" t="inlineStr"><is><t>Ann</t></is></c></row>'


def dimension_bomb() -> bytes:
    sheet = "xl/worksheets/sheet1.xml"
    declared = b'<dimension ref="A1:XFD20000"/><sheetData>'
    return rewritten_xlsx(
        raw_xlsx(HEADER + DATA), {sheet: lambda data: data.replace(b"<sheetData>", declared)}
    )


def blank_rows_bomb() -> bytes:
    blank = b"".join(b'<row r="%d"/>' % i for i in range(2, 2_000_002))
    return raw_xlsx(HEADER + blank + b'<row r="2000002"><c r="A2000002"><v>1</v></c></row>')


def shared_strings_bomb() -> bytes:
    strings = b"<si><t>firstName</t></si>" + b"<si><t>x</t></si>" * 6_000_000
    cells = b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
    return raw_xlsx(cells + b'<row r="2"><c r="A2" t="s"><v>1</v></c></row>', strings)


def entity_bomb() -> bytes:
    laughs = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        b'<!ENTITY %c "%s">' % (ord("b") + i, (b"&%c;" % (ord("a") + i)) * 10) for i in range(9)
    )
    sheet = "xl/worksheets/sheet1.xml"
    return rewritten_xlsx(raw_xlsx(HEADER + DATA), {sheet: lambda data: laughs + b"]>" + data})


def single_line_csv() -> bytes:
    return b"firstName,email," + b"x" * (160 * 1024 * 1024)


FILES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "xlsx declaring A1:XFD20000": ("bomb.xlsx", dimension_bomb),
    "xlsx of 2,000,000 blank rows": ("bomb.xlsx", blank_rows_bomb),
    "xlsx of 6,000,000 shared strings": ("bomb.xlsx", shared_strings_bomb),
    "xlsx with an entity bomb": ("bomb.xlsx", entity_bomb),
    "CSV of 160 MiB without a line end": ("line.csv", single_line_csv),
}


class RssPeak(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = self.rss()
        self.done = threading.Event()

    def rss(self) -> float:
        return float(self.process.memory_info().rss) / MIB

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, self.rss())


def measure(stack: AppStack, file_name: str, content: bytes) -> tuple[float, float, str]:
    assert stack.api.proc is not None
    sampler = RssPeak(stack.api.proc.pid)
    before = sampler.rss()
    sampler.start()
    started = time.perf_counter()
    answer = httpx.post(
        f"{stack.url}/imports/mapping",
        headers={"Authorization": f"Bearer {API_KEY}"},
        files={"file": (file_name, content, "application/octet-stream")},
        timeout=600,
    )
    seconds = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    detail = answer.json().get("detail", "") if answer.status_code != 200 else "columns found"
    return seconds, sampler.peak - before, f"{answer.status_code}: {detail[:90]}"


def main() -> None:
    children: list[Child] = []
    with tempfile.TemporaryDirectory(prefix="bcu-hostile-") as work:
        workdir = Path(work)
        try:
            servers = start_servers(workdir, children)
            print("| file | bytes sent | /imports/mapping s | API RSS growth MiB | answer |")
            print("|---|--:|--:|--:|---|")
            for label, (file_name, make) in FILES.items():
                content = make()
                with AppStack(servers, workdir / "stack") as stack:
                    seconds, growth, answer = measure(stack, file_name, content)
                print(f"| {label} | {len(content):,} | {seconds:.2f} | {growth:.1f} | {answer} |")
        finally:
            stop_all(children)


if __name__ == "__main__":
    main()
