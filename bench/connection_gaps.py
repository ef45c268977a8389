"""Where the database server waits for the worker: over one import's batches, the time the
worker's connections had no command at the server, split by the two commands around each
wait (what the worker did in between: decoding one answer, resolving rows, encoding the next
command, waiting for the event loop), on a SecantusDB of its own:

    .venv/bin/python -m bench.connection_gaps [--rows 40000] [--case new]
        [--mode "replica set" | standalone]

The cases are bench.server_profile's; the batches run 4 at a time on one event loop with
`WORKER_DATABASE_COMMANDS` connections, as in a worker process. With one connection (the
default), a gap is time the server could have spent on this import and did not; a command's
time counts from the driver's started event (its message encoded) to its reply decoded.
Then each kind of command's time out, summed: more than the same command alone on the
server takes is time its reply waited for this process (its event loop busy with another
batch's work) or the server's own background work."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pymongo import monitoring

from bench.server_profile import (
    case_arguments,
    case_file,
    on_own_server,
    planned_import,
    run_batches,
)
from config import Settings

DATABASE = "bcu_connection_gaps"
SHOWN = 12


@dataclass
class Commands(monitoring.CommandListener):
    """Each command's start and end (perf_counter) and what it was, while `recording`."""

    recording: bool = False
    out: dict[int, tuple[float, str]] = field(default_factory=dict)
    spans: list[tuple[float, float, str]] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording:
            collection = event.command.get(event.command_name)
            where = collection if isinstance(collection, str) else ""
            self.out[event.request_id] = (time.perf_counter(), f"{event.command_name} {where}")

    def _ended(self, request_id: int) -> None:
        begun = self.out.pop(request_id, None)
        if begun is not None:
            self.spans.append((begun[0], time.perf_counter(), begun[1]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._ended(event.request_id)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._ended(event.request_id)


def report(spans: list[tuple[float, float, str]], wall: float) -> None:
    """The busy time (any command out), and the idle time by the commands around it."""
    spans.sort()
    busy = 0.0
    idle: Counter[str] = Counter()
    idle_count: Counter[str] = Counter()
    out_until, last = spans[0][0], spans[0][2]
    for begin, end, what in spans:
        if begin > out_until:
            pair = f"{last} → {what}"
            idle[pair] += begin - out_until
            idle_count[pair] += 1
        busy += max(0.0, end - max(begin, out_until))
        if end > out_until:
            out_until, last = end, what
    waited = sum(idle.values())
    print(f"batches {wall:.2f} s: a command out {busy:.2f} s, none out {waited:.2f} s")
    for pair, seconds in idle.most_common(SHOWN):
        share = 100 * seconds / wall
        print(f"  {seconds:6.2f} s {share:5.1f}%  {idle_count[pair]:5d} gaps  {pair}")
    out: Counter[str] = Counter()
    out_count: Counter[str] = Counter()
    for begin, end, what in spans:
        out[what] += end - begin
        out_count[what] += 1
    print("time out by command (overlapping commands each count in full):")
    for what, seconds in out.most_common(SHOWN):
        share = 100 * seconds / wall
        print(f"  {seconds:6.2f} s {share:5.1f}%  {out_count[what]:5d} commands  {what}")


async def measure(case: str, rows: int, settings: Settings, files: Path) -> None:
    from bench.server_profile import run_import

    commands = Commands()
    monitoring.register(commands)  # before store.db makes its client
    path, action = await case_file(
        case, rows, files, lambda seed: run_import(seed, "ignore", settings, profile=False)
    )
    _, batch_ids = await planned_import(path, action, settings)
    commands.recording = True
    started = time.perf_counter()
    await run_batches(batch_ids, settings)
    wall = time.perf_counter() - started
    commands.recording = False
    print(f"{case}, {rows:,} rows, {settings.worker_database_commands} connection(s)")
    report(commands.spans, wall)


def main() -> None:
    args = case_arguments(__doc__, rows=40_000, case="new").parse_args()
    on_own_server(
        args.mode, DATABASE, lambda settings, files: measure(args.case, args.rows, settings, files)
    )


if __name__ == "__main__":
    main()
