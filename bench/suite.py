"""`make bench`: the product's import throughput, end to end through the HTTP API, next to
baselines measured in the same run on the same server (the one-off script a user would
write, each case's floor of bench.floor, and `insert_many` alone), plus the pure pipeline
on one core. Every case runs against the embedded SecantusDB in both its modes, one after the
other: replica set (its default, with an oplog: production's shape) and `--standalone` (what
`make run` starts).

    .venv/bin/python -m bench.suite [--quick] [--rows 100000] [--big-rows 1000000]
        [--mode "replica set"] [--mode standalone]

Writes bench/results/latest.md and latest.json (rewritten after every case, so an
interrupted run leaves what it measured). `--quick` skips the big case and, unless `--rows`
is given, uses 20,000 rows. Starts its own SecantusDB and redis-server unless MONGODB_URL /
REDIS_URL are set; everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from bench import data, floor, insert_many, oneoff_script, pipeline
from bench.api_import import http_import, http_revert, poll_cost
from bench.harness import (
    REPLICA_SET,
    STANDALONE,
    AppStack,
    CpuUse,
    ServerCounters,
    Servers,
    start_servers,
    wait_quiet,
)
from bench.render import machine_info, write_results
from stack.processes import Child, stop_all

SCRIPT_DATABASE = "bcu_bench_script"
FLOOR_DATABASE = "bcu_bench_floor"
INSERT_DATABASE = "bcu_bench_insert"
WARMUP_DOCS = 110_000  # SecantusDB's oplog holds 100k entries: measure it full, as it stays
QUIET_SECONDS = 30.0  # longest wait for other processes to calm down before a measurement


@dataclass
class Case:
    slug: str
    rows: int
    action: str
    file: Path
    seed: Path | None = None  # imported first, not timed
    seed_rows: int = 0
    undo: bool = False  # the import is then reverted, timed too
    big: bool = False

    @property
    def title(self) -> str:
        kind = f"{100 * self.seed_rows // self.rows}% duplicates" if self.seed else "all new"
        return f"{self.rows:,} rows, {kind}, {self.action}"


def make_cases(workdir: Path, rows: int, big_rows: int | None) -> list[Case]:
    files = workdir / "files"
    new = data.all_new_file(files, rows)
    cases = [Case(f"new-{rows}", rows, "ignore", new)]
    big = [
        Case(f"new-{n}", n, "ignore", data.all_new_file(files, n), big=True)
        for n in [big_rows]
        if n
    ]
    seed, dups = data.duplicates_files(files, rows)
    for action in ("ignore", "replace", "update", "append"):
        cases.append(Case(f"dup50-{action}-{rows}", rows, action, dups, seed, rows // 2))
    matching = data.all_matching_file(files, rows)
    cases.append(Case(f"dup100-replace-{rows}", rows, "replace", matching, new, rows, undo=True))
    return cases + big


def run_product(servers: Servers, workdir: Path, case: Case, counters: ServerCounters) -> Any:
    timeout = 300 + case.rows / 100  # gives up below ~100 rows/s
    with AppStack(servers, workdir / case.slug) as stack:
        if case.seed:
            seed = http_import(stack, "ignore", case.seed_rows, case.seed, timeout)
            if seed["status"] != "completed":
                raise RuntimeError(f"seed import ended {seed['status']}: {seed['error']}")
        waited = wait_quiet(QUIET_SECONDS)
        sampler = stack.rss_sampler()
        sampler.start()
        try:
            with counters.measure() as found, CpuUse().measure() as cpu:
                result = http_import(stack, case.action, case.rows, case.file, timeout)
        finally:
            rss = sampler.stop()
        result["cpu"] = {**cpu, "waited_for_quiet": waited}
        per_poll = poll_cost(stack, counters, result["job_id"])
        result["rss"] = rss
        result["commands"] = commands(found, case.rows, result["polls"] * per_poll)
        result["poll_requests"] = per_poll
        if case.undo and result["status"] == "completed":
            wait_quiet(QUIET_SECONDS)
            with counters.measure() as found, CpuUse().measure() as cpu:
                undo = http_revert(stack, result["job_id"], case.rows, timeout)
            undo["cpu"] = cpu
            undo["commands"] = commands(found, case.rows, undo["polls"] * per_poll)
            result["undo"] = undo
    return result


def commands(found: dict[str, int], rows: int, own: float = 0.0) -> dict[str, Any] | None:
    if "requests" not in found:
        return None
    requests = max(0.0, found["requests"] - own)
    return {"requests": requests, "per_1000_rows": 1000 * requests / rows, "raw": found}


def _measured(counters: ServerCounters, rows: int, work: Callable[[], Any]) -> dict[str, Any]:
    """`work()`'s result (its `as_dict`) with the server's commands and the CPU it took, once
    the machine is quiet."""
    waited = wait_quiet(QUIET_SECONDS)
    with counters.measure() as found, CpuUse().measure() as cpu:
        result = work()
    cpu["waited_for_quiet"] = waited
    return {**result.as_dict(), "commands": commands(found, rows), "cpu": cpu}


def run_script(servers: Servers, case: Case, counters: ServerCounters) -> dict[str, Any]:
    with MongoClient(servers.mongo_url) as client:
        client.drop_database(SCRIPT_DATABASE)
    try:
        if case.seed:
            oneoff_script.run(case.seed, servers.mongo_url, SCRIPT_DATABASE, "ignore")
        script = partial(
            oneoff_script.run, case.file, servers.mongo_url, SCRIPT_DATABASE, case.action
        )
        return _measured(counters, case.rows, script)
    finally:
        with MongoClient(servers.mongo_url) as client:
            client.drop_database(SCRIPT_DATABASE)


def run_floor(servers: Servers, case: Case, counters: ServerCounters) -> dict[str, Any]:
    url, rows = servers.mongo_url, case.rows
    with floor.Floor(url, FLOOR_DATABASE, rows, case.seed_rows, case.action) as writes:
        writes.seed()
        return _measured(counters, rows, writes.write)


def run_insert_many(servers: Servers, rows: int, counters: ServerCounters) -> dict[str, Any]:
    inserts = partial(insert_many.run, servers.mongo_url, INSERT_DATABASE, rows)
    return _measured(counters, rows, inserts)


def ratio(value: float | None, baseline: float | None) -> float | None:
    return value / baseline if value and baseline else None


def measure_case(servers: Servers, workdir: Path, case: Case, report: dict[str, Any]) -> None:
    counters: ServerCounters = report["_counters"]
    entry: dict[str, Any] = {"slug": case.slug, "title": case.title, "rows": case.rows}
    entry["action"], entry["duplicates"] = case.action, case.seed_rows / case.rows
    entry["mode"] = servers.mode
    report["cases"].append(entry)
    size, baselines = str(case.rows), report["insert_many"].setdefault(servers.mode, {})
    if size not in baselines:
        print(f"[bench] {servers.mode}: insert_many of {case.rows:,} docs…", flush=True)
        baselines[size] = run_insert_many(servers, case.rows, counters)
    print(f"[bench] {servers.mode}: {case.title}: one-off script…", flush=True)
    entry["script"] = run_script(servers, case, counters)
    print(f"[bench] {servers.mode}: {case.title}: its floor…", flush=True)
    entry["floor"] = run_floor(servers, case, counters)
    print(f"[bench] {servers.mode}: {case.title}: product through the API…", flush=True)
    try:
        entry["product"] = run_product(servers, workdir / servers.mode, case, counters)
    except Exception as error:  # recorded; the next cases still run
        entry["product"] = {"status": "error", "error": f"{type(error).__name__}: {error}"}
    completed = entry["product"].get("status") == "completed"
    product = entry["product"].get("rows_per_second") if completed else None
    entry["ratio_vs_script"] = ratio(product, entry["script"]["rows_per_second"])
    entry["ratio_vs_floor"] = ratio(product, entry["floor"]["rows_per_second"])
    entry["ratio_vs_insert_many"] = ratio(product, baselines[size]["docs_per_second"])
    shown = {k: v for k, v in entry.items() if k not in ("script", "floor")}
    print(f"[bench]     {json.dumps(shown)}")


def warm_up(servers: Servers) -> bool:
    """Fill an embedded SecantusDB's oplog, when it keeps one, so that every measurement sees
    it full (it prunes inside commits once full). Whether it did."""
    with MongoClient(servers.mongo_url) as client:
        has_oplog = "oplog.rs" in client["local"].list_collection_names()
    if servers.embedded and has_oplog:
        insert_many.run(servers.mongo_url, "bcu_bench_warmup", WARMUP_DOCS)
    return servers.embedded and has_oplog


def measure_mode(
    servers: Servers, workdir: Path, cases: list[Case], report: dict[str, Any], results: Path
) -> None:
    """Every case against `servers` (the embedded SecantusDB in one mode)."""
    report["_counters"] = ServerCounters(servers.mongo_url)
    try:
        if servers.mode not in report["machine"]:
            report["machine"][servers.mode] = machine_info(report["_counters"], servers)
            print(f"[bench] {servers.mode}: MongoDB {servers.mongo_url}; warm-up…", flush=True)
            report["machine"][servers.mode]["oplog_warmed_up"] = warm_up(servers)
        for case in cases:
            measure_case(servers, workdir, case, report)
            write_results(report, results)
    finally:
        report.pop("_counters").close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="no big case; 20,000 rows")
    parser.add_argument("--rows", type=int, default=None, help="default 100,000")
    parser.add_argument("--big-rows", type=int, default=1_000_000)
    parser.add_argument("--pipeline-rows", type=int, default=100_000)
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--case", action="append", help="only cases whose slug contains this")
    parser.add_argument(
        "--mode",
        action="append",
        choices=[REPLICA_SET, STANDALONE],
        help="the embedded server's modes to measure (default both, in this order)",
    )
    args = parser.parse_args()
    args.mode = args.mode or [REPLICA_SET, STANDALONE]
    args.rows = args.rows or (20_000 if args.quick else 100_000)
    if args.quick or args.big_rows <= 0:
        args.big_rows = None
    return args


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored (`&`)
    workdir = Path(tempfile.mkdtemp(prefix="bcu-suite-"))
    children: list[Child] = []
    report: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "complete": False}
    report.update(args={k: str(v) for k, v in vars(args).items()}, cases=[], insert_many={})
    ok = False
    try:
        print(f"[bench] work directory {workdir}; generating files…", flush=True)
        cases = make_cases(workdir, args.rows, args.big_rows)
        cases = [c for c in cases if not args.case or any(f in c.slug for f in args.case)]
        print(f"[bench] pure pipeline, {args.pipeline_rows:,} rows…", flush=True)
        wait_quiet(QUIET_SECONDS)
        with CpuUse().measure() as cpu:
            seconds, valid, failed = pipeline.run(args.pipeline_rows)
        report["pipeline"] = {"rows": valid + failed, "seconds": seconds, "cpu": cpu}
        report["pipeline"]["rows_per_second"] = (valid + failed) / seconds
        report["machine"] = {}
        # A given server has one mode, whatever it is; else one server per mode, all kept up.
        modes = args.mode[:1] if "MONGODB_URL" in os.environ else args.mode
        servers = [start_servers(workdir, children, mode) for mode in modes]
        # Every mode's usual cases before any mode's big one: a run cut short has both modes.
        for group in ([c for c in cases if not c.big], [c for c in cases if c.big]):
            for server in servers if group else []:
                measure_mode(server, workdir, group, report, args.results)
        report["complete"] = True
        ok = True
    finally:
        report["finished"] = datetime.now(UTC).isoformat()
        stop_all(children)
        if report["cases"]:
            print(write_results(report, args.results))
        complete = all(c.get("product", {}).get("status") == "completed" for c in report["cases"])
        if ok and complete and not args.keep:  # logs stay; files and database storage go
            for path in [workdir / "files", *workdir.glob("mongodb-*")]:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
        print(f"[bench] logs in {workdir}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as interrupted:
        raise SystemExit(f"[bench] stopped ({interrupted}); partial results written") from None
