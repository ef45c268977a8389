"""deploy/: the Prometheus scrape example, its alert rules and the Grafana dashboard name only
metrics GET /metrics serves (DESIGN.md §8), and parse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVED = {
    "bcu_import_rows_total",
    "bcu_imports_total",
    "bcu_import_duration_seconds_bucket",
    "bcu_jobs",
    "bcu_queue_messages",
    "bcu_step_recoveries_total",
    "bcu_webhook_deliveries_total",
    "bcu_http_requests_total",
    "bcu_http_request_duration_seconds_bucket",
}
METRIC = re.compile(r"\bbcu_[a-z_]+")


def named(expr: str) -> set[str]:
    return set(METRIC.findall(expr)) - {"bcu_api"}


def test_the_dashboard_covers_the_issue_s_panels_with_served_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = set().union(*(named(e) for e in exprs))
    assert used <= SERVED, used - SERVED
    assert used == SERVED  # rows/s, imports, durations, jobs, queues, recoveries, webhooks, HTTP
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_prometheus_scrapes_with_a_bearer_key_and_its_rules_use_served_metrics() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
    for rule_file in config["rule_files"]:
        rules = yaml.safe_load((DEPLOY / rule_file).read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                assert rule["alert"] and rule["annotations"]["summary"]
                assert named(rule["expr"]) <= SERVED, rule["alert"]
