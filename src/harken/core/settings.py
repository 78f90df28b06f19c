"""Process settings, read from `HARKEN_*` environment variables (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HARKEN_", env_file=".env", extra="ignore")

    # storage
    data_dir: Path = Path("./.harken")
    database_url: str | None = None  # default: sqlite file in data_dir
    redis_url: str | None = None

    # http
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    max_json_body_bytes: int = 8 * 1024 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    # auth
    bootstrap_api_key: str | None = None
    # API-key lookups cached per process; revocation stays immediate (see core/authcache.py). 0 = off.
    auth_cache_seconds: float = 30.0

    # idempotency and rate limits
    idempotency_ttl_seconds: int = 24 * 3600
    rate_limit: str = "600/minute"  # default per workspace; overridable per workspace

    # jobs
    run_worker_in_process: bool = True
    worker_concurrency: int = 8
    worker_poll_interval: float = 0.2
    job_lease_seconds: float = 30.0
    job_max_attempts: int = 5
    job_retention_hours: int = 24
    job_failed_retention_hours: int = 30 * 24  # failed jobs stay inspectable (with their error) longer
    job_shutdown_grace_seconds: float = 30.0  # SIGTERM: running jobs get this long, then are released
    worker_listen: bool = True  # PostgreSQL: LISTEN/NOTIFY wakes workers on commit (polling stays as fallback)
    # Comma-separated modules a worker imports besides `harken.tasks` (extra or test handlers).
    extra_task_modules: str = ""

    # webhooks
    webhook_timeout_seconds: float = 10.0
    # Delivery jobs run in their own slots in each worker (not counted in worker_concurrency).
    webhook_delivery_concurrency: int = 512
    # HTTP connections one worker keeps open at most; attempts beyond that wait for one before
    # their timeout starts.
    webhook_max_connections: int = 200
    webhook_retry_schedule: list[float] = Field(default_factory=lambda: [5, 300, 1800, 7200, 18000, 36000, 36000])
    webhook_retry_jitter: float = 0.1
    webhook_allow_private: bool = False
    webhook_allowed_networks: list[str] = Field(default_factory=list)
    webhook_https_only: bool = False
    webhook_disable_after_hours: float = 5 * 24
    webhook_retention_days: int = 30

    # smtp notifier
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "harken@localhost"
    smtp_starttls: bool = False

    # AI backends
    embedding_backend: Literal["wordllama", "minilm", "openai"] = "wordllama"
    embedding_model: str | None = None
    embedding_base_url: str | None = None
    embedding_api_key: str | None = None
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    llm_timeout_seconds: float = 60.0

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'harken.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
