"""compose.yaml, the Dockerfile and .env.example agree with each other and with Settings.

compose.yaml is read with PyYAML (no Docker needed): `${VAR:-default}` stays as text, so the
checks below see exactly what compose would interpolate."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import Settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("api", "worker", "webhooks", "sweeper", "ui")
ALL_SERVICES = ("mongo", "redis", *APP_SERVICES)
# Our services' variables that are not Settings fields, each with why. Empty today: a name
# added here must also be described in .env.example or in compose.yaml.
DOCUMENTED_EXTRA_ENV: dict[str, str] = {
    "FORWARDED_ALLOW_IPS": "uvicorn's own: the proxies whose X-Forwarded-For it trusts",
}
# Values compose sets itself instead of taking them from the host.
FIXED_VALUES = {
    "MONGODB_URL": "mongodb://mongo:27017/?replicaSet=rs0",
    "REDIS_URL": "redis://redis:6379/0",
    "API_HOST": "0.0.0.0",
    "UI_HOST": "0.0.0.0",
    "API_URL": "http://api:${API_PORT:-8000}",
    "DATA_DIR": "/app/var",
    "LOG_FORMAT": "json",
    "FORWARDED_ALLOW_IPS": "${UI_ADDRESS:-172.30.80.10}",
    # Real MongoDB runs a worker's commands side by side; .env.example's 1 is the embedded's.
    "WORKER_DATABASE_COMMANDS": "${WORKER_DATABASE_COMMANDS:-4}",
}
VAR_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")
INTERPOLATION = re.compile(r"^\$\{([A-Z][A-Z0-9_]*):-([^}]*)\}$")


def env_example() -> dict[str, str]:
    """Variables of .env.example and their values; each must sit under a comment."""
    found: dict[str, str] = {}
    commented = False  # whether the current paragraph (lines since a blank one) has a comment
    for number, line in enumerate((ROOT / ".env.example").read_text().splitlines(), 1):
        if not line.strip():
            commented = False
        elif line.startswith("#"):
            commented = True
        else:
            match = VAR_LINE.match(line)
            assert match, f".env.example:{number} is not NAME=value: {line!r}"
            assert commented, f".env.example:{number}: {match[1]} has no comment above it"
            assert match[1] not in found, f".env.example: {match[1]} is given twice"
            found[match[1]] = match[2]
    return found


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment must be a mapping (NAME: value)"
    return {name: str(value) for name, value in env.items()}


def settings_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service["command"]
    assert isinstance(cmd, list), "exec form: a list, no shell in between"
    return [str(part) for part in cmd]


def test_all_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert set(ALL_SERVICES) <= set(services)


def test_every_long_running_service_restarts(services: dict[str, dict[str, Any]]) -> None:
    for name in ALL_SERVICES:
        assert services[name].get("restart") in ("unless-stopped", "always"), name


def test_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    for name in ("mongo", "redis", "api", "ui"):
        check = services[name].get("healthcheck")
        assert check and check.get("test"), f"{name} needs a healthcheck"
        assert not check.get("disable"), name

    mongo = " ".join(services["mongo"]["healthcheck"]["test"])
    assert "rs.initiate" in mongo and "'rs0'" in mongo and "mongo:27017" in mongo
    assert "isWritablePrimary" in mongo, "healthy only once the node is primary"
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])

    api = " ".join(services["api"]["healthcheck"]["test"])
    assert "urllib" in api and "/health" in api
    assert "curl" not in api and "wget" not in api, "the slim image has neither"
    assert "${API_PORT:-8000}/health" in api


def test_mongo_is_a_replica_set_with_a_named_volume(compose: dict[str, Any]) -> None:
    mongo = compose["services"]["mongo"]
    assert mongo["image"].split(":")[0] == "mongo"
    cmd = command(mongo)
    assert cmd[cmd.index("--replSet") + 1] == "rs0"
    volumes = [str(volume) for volume in mongo["volumes"]]
    named = [v.split(":")[0] for v in volumes if v.endswith(":/data/db")]
    assert named and named[0] in compose["volumes"], "a named volume for /data/db"
    assert compose["services"]["redis"]["image"].split(":")[0] == "redis"


def test_depends_on_healthy_services(services: dict[str, dict[str, Any]]) -> None:
    expected = {
        "api": {"mongo", "redis"},
        "worker": {"mongo", "redis"},
        "sweeper": {"mongo", "redis"},
        "webhooks": {"mongo", "redis"},
        "ui": {"api"},
    }
    for name, needs in expected.items():
        depends = services[name].get("depends_on")
        assert isinstance(depends, dict), f"{name}: depends_on with conditions"
        assert needs <= set(depends), name
        for dependency, spec in depends.items():
            assert spec.get("condition") == "service_healthy", f"{name} -> {dependency}"
            assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"


def test_worker_is_scalable(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker.get("restart") == "unless-stopped"
    cmd = command(worker)
    assert cmd[:4] == ["python", "-m", "dramatiq", "workers.actors"]
    assert cmd[cmd.index("--processes") + 1] == "${WORKER_PROCESSES:-1}"
    assert cmd[cmd.index("--threads") + 1] == "${WORKER_THREADS:-4}"


def test_commands(services: dict[str, dict[str, Any]]) -> None:
    api = command(services["api"])
    assert api[:5] == ["python", "-m", "uvicorn", "api.app:create_app", "--factory"]
    assert api[api.index("--host") + 1] == "0.0.0.0"
    assert api[api.index("--port") + 1] == "${API_PORT:-8000}"
    assert command(services["sweeper"]) == ["python", "-m", "wiring.sweeper"]
    ui = command(services["ui"])
    assert ui[:5] == ["python", "-m", "streamlit", "run", "ui/server.py"]
    assert ui[ui.index("--server.address") + 1] == "0.0.0.0"
    assert ui[ui.index("--server.port") + 1] == "${UI_PORT:-8501}"
    assert environment(services["ui"])["API_URL"] == "http://api:${API_PORT:-8000}"
    for name in APP_SERVICES:
        assert "container_name" not in services[name], name


def test_only_api_and_ui_publish_ports(services: dict[str, dict[str, Any]]) -> None:
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"api", "ui"}
    assert services["api"]["ports"] == ["${API_PORT:-8000}:${API_PORT:-8000}"]
    assert services["ui"]["ports"] == ["${UI_PORT:-8501}:${UI_PORT:-8501}"]


def test_env_example_documents_every_setting() -> None:
    documented = set(env_example())
    assert settings_names() - documented == set(), "Settings fields missing in .env.example"
    assert documented - settings_names() == set(), ".env.example names that are no setting"


def test_every_variable_reaches_api_and_worker(services: dict[str, dict[str, Any]]) -> None:
    names = set(env_example())
    for name in ("api", "worker", "sweeper"):
        missing = names - set(environment(services[name]))
        assert not missing, f"{name} does not get {sorted(missing)}"
    # The UI gets everything but the admin key: it signs in with its user's key.
    assert set(environment(services["ui"])) == names - {"ADMIN_API_KEY"}


def test_service_variables_are_settings_or_documented(
    services: dict[str, dict[str, Any]],
) -> None:
    known = settings_names() | set(DOCUMENTED_EXTRA_ENV)
    for name in APP_SERVICES:
        unknown = set(environment(services[name])) - known
        assert not unknown, f"{name} gets undocumented variables {sorted(unknown)}"
    compose_text = (ROOT / "compose.yaml").read_text()
    for name, why in DOCUMENTED_EXTRA_ENV.items():
        assert why and name in compose_text, name


def test_values_follow_env_example(services: dict[str, dict[str, Any]]) -> None:
    """Host overrides keep their own name and the default of .env.example; the connection
    URLs are compose's own; the admin key has no default at all."""
    example = env_example()
    for service in APP_SERVICES:
        for name, value in environment(services[service]).items():
            if name == "ADMIN_API_KEY":
                assert value == "${ADMIN_API_KEY:?set ADMIN_API_KEY}", service
            elif name in FIXED_VALUES:
                assert value == FIXED_VALUES[name], f"{service}: {name}"
            else:
                match = INTERPOLATION.match(value)
                assert match, f"{service}: {name}={value!r} is not ${{{name}:-default}}"
                assert match[1] == name, f"{service}: {name} reads ${{{match[1]}}}"
                assert match[2] == example[name], f"{service}: {name} default differs"


def test_compose_values_are_valid_settings(services: dict[str, dict[str, Any]]) -> None:
    """The values the api would see (host unset) pass Settings' own validation."""
    resolved = {}
    for name, value in environment(services["api"]).items():
        value = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)
        value = re.sub(r"\$\{[A-Z0-9_]+:\?[^}]*\}", "a-production-key", value)
        resolved[name.lower()] = value
    settings = Settings(_env_file=None, **resolved)  # type: ignore[call-arg]
    assert settings.mongodb_url == FIXED_VALUES["MONGODB_URL"]
    assert settings.admin_api_key != Settings.model_fields["admin_api_key"].default
    assert settings.effective_api_url == "http://api:8000"


def test_admin_key_is_required_nowhere_defaulted() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert "dev-admin-key" not in text
    assert "${ADMIN_API_KEY:?" in text


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert froms and all(base == "${PYTHON_IMAGE}" for base in froms)
    assert "ARG PYTHON_IMAGE=python:3.12-slim" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), "runs as a non-root user"
    assert not re.search(r"^HEALTHCHECK", text, re.MULTILINE), "compose holds the healthchecks"
    assert ".[dev]" not in text and "[dev]" not in text
    # pyproject.toml (the dependency layer) is copied before the sources.
    assert text.index("COPY pyproject.toml") < text.index("COPY . .")
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv", "var", ".git", ".env", "test-output", ".pytest_cache"):
        assert entry in ignored, entry


def test_the_api_trusts_the_forwarded_address_of_the_ui_container_only(
    services: dict[str, dict[str, Any]],
) -> None:
    """The failed sign-in limit counts per browser: the API takes X-Forwarded-For from the
    UI's container, whose address is fixed inside the stack's own network."""
    import ipaddress

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    trusted = services["api"]["environment"]["FORWARDED_ALLOW_IPS"]
    ui_address = services["ui"]["networks"]["default"]["ipv4_address"]
    assert trusted == ui_address
    (subnet,) = compose["networks"]["default"]["ipam"]["config"]
    default = INTERPOLATION.match(ui_address)
    network = INTERPOLATION.match(subnet["subnet"])
    assert default and network
    assert ipaddress.ip_address(default[2]) in ipaddress.ip_network(network[2])
