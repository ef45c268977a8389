"""bench/results/latest.json and latest.md from one suite run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench.harness import WORKER_PROCESSES, WORKER_THREADS, ServerCounters, Servers

NA = "n/a"
OUTCOMES = ("imported", "updated", "ignored", "failed")
OTHER_CORES_WARNING = 0.25


def _git(*argv: str) -> str:
    try:
        done = subprocess.run(["git", *argv], capture_output=True, text=True, timeout=10)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or NA


def machine_info(counters: ServerCounters, servers: Servers) -> dict[str, Any]:
    try:
        status = counters.client.admin.command("serverStatus")
        server = f"{status.get('process', 'mongod')} {status.get('version', '?')}"
        if "secantus" in status:
            server = f"SecantusDB {status['secantus'].get('version', '?')} (wire {server})"
    except Exception:
        server = NA
    changed = _git("status", "--porcelain")
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": _cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "mongodb": server,
        "mongodb_embedded": servers.embedded,
        "serverStatus": counters.supported,
        "git_commit": _git("rev-parse", "--short", "HEAD") or NA,
        "git_changed_files": len(changed.splitlines()) if changed else 0,
        "workers": f"{WORKER_PROCESSES} processes x {WORKER_THREADS} threads",
        "mode": servers.mode,
    }


def _num(value: float | None, digits: int = 0) -> str:
    return NA if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return NA if value is None else f"{value:.3g}×"


def _cmds(commands: dict[str, Any] | None) -> str:
    return NA if not commands else _num(commands["per_1000_rows"], 1)


def _outcome(product: dict[str, Any]) -> str:
    if product.get("status") != "completed":
        return f"**{product.get('status', NA)}**: {product.get('error') or ''}"[:160]
    counts = product.get("counts") or {}
    kinds = ("restored", "deleted", "conflicts") if "restored" in counts else OUTCOMES
    parts = [f"{counts.get(k, 0):,} {k}" for k in kinds]
    outcome = ", ".join(p for p in parts if not p.startswith("0 ")) or "0 rows"
    batches, deliveries = product.get("batches"), product.get("batch_deliveries")
    if batches and deliveries and deliveries > batches:
        outcome += f"; {deliveries - batches} batch retries"
    return outcome


def _rss(product: dict[str, Any]) -> tuple[str, str]:
    rss = product.get("rss")
    if not rss:
        return NA, NA
    workers = " / ".join(_num(v) for v in rss["worker_mib"]) or NA
    return _num(rss["api_mib"]), workers


def _other(measured: dict[str, Any] | None) -> str:
    cpu = (measured or {}).get("cpu")
    return NA if not cpu else f"{cpu['other_cores']:.2f}"


def _disturbed(report: dict[str, Any]) -> list[str]:
    """Measurements during which other processes used a noticeable share of the CPUs."""
    found = []
    for name, measured in _measurements(report):
        cpu = measured.get("cpu") or {}
        if cpu.get("other_cores", 0.0) >= OTHER_CORES_WARNING:
            found.append(f"{name} ({cpu['other_cores']:.2f} cores)")
    return found


def _measurements(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [("pipeline", report.get("pipeline") or {})]
    for mode, sizes in report.get("insert_many", {}).items():
        found += [(f"insert_many {mode} {int(n):,}", r) for n, r in sizes.items()]
    for case in report["cases"]:
        name = f"{case.get('mode', NA)} {case['slug']}"
        found += [(f"script {name}", case.get("script") or {})]
        found += [(f"floor {name}", case.get("floor") or {})]
        found += [(f"product {name}", case.get("product") or {})]
        found += [(f"undo {name}", (case.get("product") or {}).get("undo") or {})]
    return found


def _product_row(case: dict[str, Any], title: str, p: dict[str, Any], vs: str) -> str:
    phases = p.get("phases", {})
    api, workers = _rss(p)
    cells = [
        case.get("mode", NA),
        title,
        _num(case["rows"]),
        _num(p.get("seconds"), 1),
        _num(p.get("rows_per_second")) if p.get("status") == "completed" else NA,
        vs,
        _ratio(case.get("ratio_vs_floor")) if "phases" in p else NA,
        _ratio(case.get("ratio_vs_insert_many")) if "phases" in p else NA,
        *(_num(phases.get(k), 1) for k in ("upload", "planning", "batches", "report")),
        _cmds(p.get("commands")),
        api,
        workers,
        _other(p),
        _outcome(p),
    ]
    return "| " + " | ".join(cells) + " |"


def render_markdown(report: dict[str, Any]) -> str:
    machines: dict[str, Any] = report.get("machine", {})
    m = next(iter(machines.values()), {})
    disturbed = _disturbed(report)
    lines = [
        "# Bulk Customer Upload benchmark",
        "",
        f"- Run: {report.get('started', NA)} → {report.get('finished', 'running')}"
        + ("" if report.get("complete") else " (**incomplete**)"),
        f"- Machine: nproc {m.get('nproc', NA)} (usable {m.get('usable_cpus', NA)}),"
        f" {m.get('cpu', NA)}, {m.get('memory_gib', NA)} GiB RAM, Python {m.get('python', NA)},"
        f" {m.get('platform', NA)}",
        *(
            f"- Server, {mode}: {info.get('mongodb', NA)}"
            + (" (embedded, started by the suite)" if info.get("mongodb_embedded") else "")
            for mode, info in machines.items()
        ),
        f"- Product: API = 1 uvicorn process, workers = {m.get('workers', NA)} (`make run`'s"
        f" defaults); code at {m.get('git_commit', NA)}"
        + (f" + {n} uncommitted files (git status)" if (n := m.get("git_changed_files")) else ""),
        f"- Arguments: {report.get('args', {})}",
        "",
    ]
    if disturbed:
        lines += [
            f"**Warning: other processes on this machine used CPU during: {', '.join(disturbed)}."
            " Those figures are low; compare ratios within one server mode of one run.**",
            "",
        ]
    lines += [
        "## Product: imports through the HTTP API",
        "",
        "| server | case | rows | seconds | rows/s | vs script | vs floor | vs insert_many"
        " | upload s | planning s | batches s | report s | cmds/1k rows | API MiB | worker MiB"
        " | other CPU | outcome |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for case in report["cases"]:
        p = case.get("product", {})
        lines.append(_product_row(case, case["title"], p, _ratio(case.get("ratio_vs_script"))))
        undo = p.get("undo")
        if undo:
            own = ratio_of(undo.get("rows_per_second"), p.get("rows_per_second"))
            lines.append(_product_row(case, f"undo of: {case['title']}", undo, f"{own} of import"))
    lines += [
        "",
        "## Baselines, same run, same server",
        "",
        "| server | baseline | rows | seconds | rows/s | cmds/1k rows | other CPU"
        " | written / failed |",
        "|---|---|--:|--:|--:|--:|--:|---|",
    ]
    for mode, sizes in report.get("insert_many", {}).items():
        for size, r in sizes.items():
            name, written = "insert_many, 1,000 per call, no index", f"{r['docs']:,} docs"
            lines.append(_baseline_row(mode, name, int(size), r, r["docs_per_second"], written))
    for kind, label, written in BASELINES:
        for case in report["cases"]:
            b = case.get(kind)
            if b:
                name, mode = f"{label}: {case['title']}", case.get("mode", NA)
                row = _baseline_row(mode, name, b["rows"], b, b["rows_per_second"], written(b))
                lines.append(row)
    pipe = report.get("pipeline")
    if pipe:
        lines += [
            "",
            f"Pure pipeline (read, map, validate, normalise; one core, no database, "
            f"`bench.pipeline`): {pipe['rows']:,} rows in {pipe['seconds']:.2f} s, "
            f"**{pipe['rows_per_second']:,.0f} rows/s**.",
        ]
    lines += ["", "## How to read it", "", *NOTES]
    if any(info.get("oplog_warmed_up") for info in machines.values()):
        lines.append(WARMED_UP)
    return "\n".join(lines) + "\n"


def _baseline_row(
    mode: str, name: str, rows: int, measured: dict[str, Any], rate: float, written: str
) -> str:
    cells = [mode, name, _num(rows), _num(measured["seconds"], 1), _num(rate)]
    cells += [_cmds(measured.get("commands")), _other(measured), written]
    return "| " + " | ".join(cells) + " |"


def _script_writes(script: dict[str, Any]) -> str:
    return f"{script['upserted']:,} upserted, {script['matched']:,} matched / {script['failed']:,}"


def _floor_writes(floor: dict[str, Any]) -> str:
    """The floor's writes in words: {"customers InsertOne": 1000} → "1,000 customers inserted"."""
    done = {"InsertOne": "inserted", "ReplaceOne": "replaced", "DeleteOne": "deleted"}
    parts = []
    for name, count in floor["writes"].items():
        collection, _, kind = name.partition(" ")
        parts.append(f"{count:,} {collection} {done.get(kind, kind)}")
    return ", ".join(parts) or "nothing"


# The baselines measured per case: the key of a case's entry, its name, what it wrote.
BASELINES: list[tuple[str, str, Callable[[dict[str, Any]], str]]] = [
    ("script", "one-off script", _script_writes),
    ("floor", "floor", _floor_writes),
]


def ratio_of(value: float | None, baseline: float | None) -> str:
    return _ratio(value / baseline if value and baseline else None)


NOTES = [
    "- server: the embedded SecantusDB in its default replica-set mode (an oplog: production's"
    " shape) or `--standalone` (what `make run` starts); each mode's cases and baselines ran on"
    " servers of their own, one mode after the other: compare ratios within a mode.",
    "- rows/s = data rows / (start of the POST → the poll (every 0.2 s) that saw the job"
    " finished, its report built: the job's `finished_at` is stamped before). Duplicates cases"
    " first import (untimed) a seed: rows/2 rows for 50% duplicates, where half the file then"
    " matches by email; all the rows for 100% duplicates, where every row matches.",
    "- undo: POST /imports/{id}/revert of the import above it, to the poll that saw it finished;"
    " rows/s of the import's rows; `of import` = undo rows/s ÷ the import's.",
    "- vs script / vs floor / vs insert_many = product rows/s ÷ baseline rows/s (0.1× = 10"
    " times slower). insert_many is of as many documents as the case has rows.",
    "- floor (`bench.floor`): the database alone doing the fewest writes the case needs with"
    " the product's guarantees, unordered bulk writes of 1,000 rows' writes from one client,"
    " only the writes timed: a new row's customer and one claim per identifier value; a"
    " matched row its action changes: the customer replaced by `_id`, its pre-image (for the"
    " undo), a claim per value it gains; a matched row left as it is: nothing.",
    "- Phases: upload = the POST's duration; planning = `planned_at` − `created_at`; batches ="
    " `batches_done_at` − `planned_at`; report = that poll − `batches_done_at` (n/a: the"
    " job document has no such field).",
    "- cmds/1k rows: increase of serverStatus `network.numRequests` (every command the server"
    " received, from every client, heartbeats included) per 1,000 rows; the bench's own polls"
    " are subtracted. n/a: the server does not answer serverStatus.",
    "- MiB: peak RSS sampled every 0.5 s; one figure per worker process.",
    "- other CPU: cores used on average by processes this run did not start, during the"
    " measurement (all CPUs busy minus the bench, its servers, API and workers). Near 0 on a"
    " quiet machine. Before each measurement the bench waits up to 30 s for it to be so.",
    "- Each product case runs on a freshly dropped database `bcu_bench` with a fresh API and"
    f" workers ({WORKER_PROCESSES} process(es) x {WORKER_THREADS} threads, `make run`'s defaults);"
    " the script and insert_many use their own databases,"
    " dropped before and after.",
]
WARMED_UP = (
    "- The server keeps an oplog (replica set): it was filled once before measuring, so every"
    " figure sees it full (SecantusDB prunes it inside commits once full)."
)


def save_results(
    report: dict[str, Any], directory: Path, name: str, render: Callable[[dict[str, Any]], str]
) -> str:
    """Writes `name`.json (the report) and `name`.md (its rendering); returns the markdown."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    markdown = render(report)
    (directory / f"{name}.md").write_text(markdown)
    return markdown


def write_results(report: dict[str, Any], directory: Path) -> str:
    """Writes latest.json and latest.md (the report but its `_` keys); returns the markdown."""
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    return save_results(public, directory, "latest", render_markdown)
