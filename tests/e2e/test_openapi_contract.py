"""Schemathesis, every check on, against the API's own OpenAPI document: the real API
process on the test's MongoDB and Redis, once with an admin key and once with a viewer key.
The API and its worker get a database and a Redis database of their own (the admin run
replaces the schema at random), and a rate limit high enough not to hide routes behind 429s.
The seed is fixed so that CI is repeatable; `SCHEMATHESIS_SEED=<n>` explores other cases."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack.processes import VENV_BIN, stop_all
from tests.helpers import csv_bytes, start_api, start_worker, wait_for_job_sync

pytestmark = pytest.mark.e2e
CONFIG = Path(__file__).resolve().parents[1] / "schemathesis.toml"
ADMIN_KEY = "schemathesis-admin-key"


@pytest.fixture(scope="module")
def contract_api(workdir: Path, worker_env: dict[str, str]) -> Iterator[str]:
    env = dict(
        worker_env,
        MONGODB_DATABASE="bcu_contract",
        REDIS_URL=worker_env["REDIS_URL"].rsplit("/", 1)[0] + "/1",
        ADMIN_API_KEY=ADMIN_KEY,
        RATE_LIMIT_PER_SECOND="100000",
        RATE_LIMIT_BURST="100000",
        # Webhooks and URL sources the fuzzer makes up reach nothing but this machine: any
        # other host is refused (422) before a name is even resolved.
        OUTBOUND_ALLOW_PRIVATE="true",
        OUTBOUND_ALLOWED_HOSTS="127.0.0.1",
    )
    worker = start_worker(env, workdir / "contract-worker.log")
    api, url = start_api(env, workdir / "contract-api.log")
    yield url
    stop_all([api, worker])


def _known_ids(client: httpx.Client) -> dict[str, str]:
    """A finished import and a customer, so that routes with an id are tested past 404."""
    body = csv_bytes(["firstName", "email"], [["Ann", "ann@example.com"], ["", "x"]])
    config = '{"deduplicationKeys": ["email"], "action": "ignore"}'
    created = client.post(
        "/imports", files={"file": ("seed.csv", body)}, data={"config": config}
    ).json()
    wait_for_job_sync(client, created["id"])
    customer = client.get("/customers", params={"email": "ann@example.com"}).json()["items"][0]
    # Webhooks and schedules are not seeded: the stateful phase takes their ids from what
    # POST /webhooks and POST /schedules answer (a seeded id would be deleted by the fuzzer's
    # DELETE, and later be taken for a resource just created).
    return {"job_id": created["id"], "customer_id": customer["id"], "record_type": "customers"}


def _run_schemathesis(url: str, key: str, ids: dict[str, str], config: Path) -> None:
    parameters = "\n".join(f'{name} = "{value}"' for name, value in ids.items())
    config.write_text(CONFIG.read_text() + f"\n[parameters]\n{parameters}\n")
    command = [
        str(VENV_BIN / "st"),
        "--config-file",
        str(config),
        "run",
        f"{url}/docs/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        "all",
        "--max-examples",
        "40",  # two runs over every operation: 60 put CI past its 20 minutes
        "--seed",
        os.environ.get("SCHEMATHESIS_SEED", "20261201"),
        "--generation-database",
        "none",
        "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]


@pytest.mark.timeout(900)  # two runs of every operation, the stateful phase's sequences too
def test_the_api_keeps_its_openapi_contract_for_an_admin_and_a_viewer(
    contract_api: str, tmp_path: Path
) -> None:
    admin = httpx.Client(
        base_url=contract_api, timeout=60, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    ids = _known_ids(admin)
    viewer = admin.post("/api-keys", json={"name": "contract viewer", "role": "viewer"}).json()
    _run_schemathesis(contract_api, viewer["key"], ids, tmp_path / "viewer.toml")
    _run_schemathesis(contract_api, ADMIN_KEY, ids, tmp_path / "admin.toml")
