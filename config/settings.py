"""The one `Settings` object. Every variable here is documented in `.env.example`."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.resolution import ProfileBounds


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Connections. Unset URLs mean "start the embedded server" (make run / tests only).
    mongodb_url: str | None = None
    mongodb_database: str = "bulk_upload"
    # Pooled connections idle this long are dropped by the driver before the server drops them
    # (SecantusDB closes a connection idle for 300 s; the async driver only notices on use).
    mongodb_max_idle_seconds: float = 120.0
    redis_url: str | None = None
    data_dir: Path = Path("var")
    embedded_mongodb_port: int = 27018  # not 27017: a real MongoDB may own that
    embedded_redis_port: int = 6380  # not 6379: a system Redis may own that

    # Ports and addresses of the processes.
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    ui_host: str = "127.0.0.1"
    ui_port: int = 8501
    api_url: str | None = None  # where the UI reaches the API; default http://api_host:api_port
    # On SIGTERM the API lets requests in flight finish for this long, then drops them (an
    # upload dropped midway is deleted by the recovery check).
    api_shutdown_seconds: int = Field(default=10, ge=0)

    # Logs of every process: one JSON object per line (compose's default), or readable text.
    log_format: Literal["json", "text"] = "text"

    # Security: the bootstrap admin key (more keys live in MongoDB).
    admin_api_key: str = "dev-admin-key"
    session_hours: float = Field(default=8.0, gt=0)

    # Import processing.
    batch_size: int = Field(default=1000, ge=1, le=10_000)
    phone_validation: Literal["strict", "possible"] = "strict"
    max_upload_bytes: int = 512 * 1024 * 1024
    max_columns: int = 200
    max_field_chars: int = 10_000
    max_rows: int = 2_000_000
    file_read_seconds: float = Field(default=300.0, gt=0)
    xlsx_max_unpacked_bytes: int = Field(default=1024**3, ge=1)
    xlsx_max_shared_strings: int = Field(default=4_000_000, ge=1)
    xlsx_max_shared_string_bytes: int = Field(default=64 * 1024**2, ge=1)
    bulk_max_customers: int = 5_000
    bulk_max_bytes: int = 16 * 1024 * 1024
    lookup_chunk_size: int = 50
    # What one customer may hold: values of one multi-value field, and bytes of values in
    # all; a row or bulk customer that would take it past either fails with the reason.
    max_values_per_field: int = Field(default=100, ge=1)
    max_customer_bytes: int = Field(default=1024 * 1024, ge=1024, le=8 * 1024 * 1024)
    writer_lease_seconds: float = Field(default=60.0, gt=0)

    # Limits that protect the service from any one client (a clear 4xx beyond each).
    max_json_depth: int = Field(default=32, ge=2, le=150)
    rate_limit_per_second: float = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=200, ge=1)
    max_running_imports_per_key: int = Field(default=5, ge=1)
    max_mapping_previews_per_key: int = Field(default=2, ge=1)
    # Unknown API keys one client address may present (API or UI sign-in): a burst of this
    # many, then this many a minute; beyond: 429 with Retry-After, the key not even checked.
    auth_failure_burst: int = Field(default=20, ge=1)
    auth_failures_per_minute: float = Field(default=10.0, gt=0)
    # A customer filter on attributes that are not channel identifiers reads every customer
    # (and holds up lookups meanwhile): at most this long, of at most this many customers, and
    # this many at a time per key and in all; beyond: 400 with advice, or 429 with Retry-After.
    customer_scan_seconds: float = Field(default=10.0, gt=0)
    customer_scan_max_customers: int = Field(default=20_000, ge=0)
    customer_scans_per_key: int = Field(default=2, ge=1)
    customer_scans_at_once: int = Field(default=3, ge=1)
    # Longest a bulk request waits for other writers of the same customers before it answers
    # 409 with Retry-After (nothing of it written).
    bulk_wait_seconds: float = Field(default=10.0, ge=0)

    # Workers and recovery.
    worker_processes: int = 1
    worker_threads: int = 4
    # Longest a worker's consumer of an idle queue waits between two looks at it (Dramatiq
    # backs off up to its worker timeout, 1 s): a job's next step (its batches after
    # planning, its report after the last batch) waited up to that long before a worker
    # took it. Each idle queue is looked at about every three quarters of this.
    worker_idle_poll_ms: int = Field(default=100, ge=10, le=5000)
    # Database commands a worker process has in flight at once (its connections). The
    # embedded SecantusDB undoes and retries writes to different collections that overlap:
    # measured in replica-set mode, one client inserts 5,600 docs/s, four clients on four
    # collections 660 together; a 20,000-row import took 22 s with one, 29 s with many. A
    # real MongoDB runs them side by side: compose.yaml gives each worker thread its own.
    worker_database_commands: int = Field(default=1, ge=1, le=100)
    # A worker holds a lease on the step it works on (a batch, the planning, the report) and
    # renews it every third of this; a lease that ran out means the worker died, and the
    # recovery check, every RECOVERY_CHECK_SECONDS, drives the step again. Their sum bounds
    # the time a fault holds a job up (the target is 30 s).
    lease_seconds: float = Field(default=15.0, gt=0)
    # On SIGTERM a worker process lets the steps in flight finish for this long, then exits:
    # what it had not acknowledged is delivered again.
    worker_shutdown_seconds: float = Field(default=10.0, gt=0)
    recovery_check_seconds: float = Field(default=5.0, gt=0)
    report_retention_days: int = Field(default=30, ge=0)  # 0: keep them forever
    audit_retention_days: int = Field(default=365, ge=0)  # 0: keep the events forever

    # Automation (DESIGN.md §7): idempotent requests, webhooks, remote sources, schedules.
    idempotency_hours: float = Field(default=24.0, gt=0)
    # Webhooks and URL sources may reach loopback, private and link-local addresses only
    # when this is true (development and tests); otherwise they are refused.
    outbound_allow_private: bool = False
    # Hosts webhooks and URL sources may reach, comma-separated (`*.example.com` matches its
    # subdomains); empty: any host that passes the check above.
    outbound_allowed_hosts: str = ""
    # Longest a remote source (URL or S3) may take to download, in seconds; the job fails
    # with that reason beyond it.
    source_timeout_seconds: float = Field(default=300.0, gt=0)
    s3_endpoint_url: str | None = None  # unset: AWS's own endpoints
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_region: str = "us-east-1"
    webhook_worker_threads: int = Field(default=8, ge=1)
    webhook_announce_seconds: float = Field(default=0.5, gt=0)

    @property
    def profile_bounds(self) -> ProfileBounds:
        return ProfileBounds(self.max_values_per_field, self.max_customer_bytes)

    @property
    def allowed_hosts(self) -> list[str]:
        return [h.strip().lower() for h in self.outbound_allowed_hosts.split(",") if h.strip()]

    @property
    def effective_api_url(self) -> str:
        return self.api_url or f"http://{self.api_host}:{self.api_port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
