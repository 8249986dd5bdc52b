"""Settings read from the environment once, at start-up, and passed in (never built at import time)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from walkforward.domain import DEFAULT_TIMEZONE


class Settings(BaseSettings):
    """Where walkforward keeps its data.

    The reference's variable names are kept (``FEATURES_PARQUET_DIR``, ``MODELS_DIR``,
    ``METADATA_DB_PATH``, ``LOG_LEVEL``); defaults live under ``./data`` so nothing needs ``/app``.
    ``METADATA_DB_URL`` (a SQLAlchemy URL) wins over ``METADATA_DB_PATH`` when set.
    ``WALKFORWARD_DASK_SCHEDULER`` (``tcp://host:8786``) sends the tasks of the API's search jobs
    (and of ``walkforward search --executor dask``) to that Dask cluster; unset, they run in local
    worker processes. ``WALKFORWARD_TIMEZONE`` (an IANA name, default ``America/New_York``) is the
    exchange zone an ingest reads naive timestamps in when ``--timezone`` is not given; it is
    checked where it is used, so that a bad value is one line naming the variable.
    ``WALKFORWARD_LOCKBOX_START`` (``YYYY-MM-DD``, a local date of the primary symbol's exchange)
    starts the lock box: no training, search or statistic reads a bar from that day on, and a
    registered model is evaluated on it once, on request (``walkforward models lockbox``). A date
    rather than "the last N days", so the lock box does not move as new data arrives.
    ``WALKFORWARD_DRIFT_*`` set drift monitoring (``walkforward models drift``): the PSI and KS floors
    of the warn and alert thresholds, the family-wise levels of the block-bootstrap thresholds, the
    draws and their seed, the z of a performance drop, and the fewest new rows judged.
    """

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    features_parquet_dir: Path = Field(default=Path("data/features_parquet"))
    models_dir: Path = Field(default=Path("data/models"))
    metadata_db_path: Path = Field(default=Path("data/metadata.db"))
    metadata_db_url: str | None = None
    log_level: str = "INFO"
    api_token: str | None = None  # API_TOKEN: when set, the HTTP API needs "Authorization: Bearer <token>"
    # Named as the variable itself: an alias would also read DASK_SCHEDULER, which is Dask's own setting.
    walkforward_dask_scheduler: str | None = None
    walkforward_timezone: str = DEFAULT_TIMEZONE
    walkforward_lockbox_start: dt.date | None = None
    walkforward_drift_psi_warn: float = Field(default=0.1, gt=0)
    walkforward_drift_psi_alert: float = Field(default=0.25, gt=0)
    walkforward_drift_ks_warn: float = Field(default=0.1, gt=0, le=1)
    walkforward_drift_ks_alert: float = Field(default=0.2, gt=0, le=1)
    walkforward_drift_warn_level: float = Field(default=0.95, ge=0.5, lt=1)
    walkforward_drift_alert_level: float = Field(default=0.99, ge=0.5, lt=1)
    walkforward_drift_draws: int = Field(default=1000, ge=100, le=100_000)
    walkforward_drift_seed: int = Field(default=0, ge=0)
    walkforward_drift_perf_warn_z: float = Field(default=2.0, gt=0)
    walkforward_drift_perf_alert_z: float = Field(default=3.0, gt=0)
    walkforward_drift_min_rows: int = Field(default=30, ge=2)

    @field_validator("walkforward_lockbox_start", mode="before")
    @classmethod
    def _lockbox_date(cls, value: object) -> object:
        """Blank is unset; anything but ``YYYY-MM-DD`` is refused with the fix (not pydantic's parse error)."""
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    f"WALKFORWARD_LOCKBOX_START={value!r} is not a date: use YYYY-MM-DD (the lock box's first day)"
                ) from None
        return value

    @field_validator("walkforward_dask_scheduler")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        """An empty ``WALKFORWARD_DASK_SCHEDULER=`` means local workers, not a scheduler named ''."""
        if value is None:
            return None
        return value.strip() or None

    @property
    def database_url(self) -> str:
        """The registry's SQLAlchemy URL: ``METADATA_DB_URL`` or the embedded SQLite file."""
        if self.metadata_db_url:
            return self.metadata_db_url
        return f"sqlite:///{self.metadata_db_path.resolve()}"


def load_settings() -> Settings:
    """Build the settings from the environment (call once, in ``main()`` or the app factory)."""
    return Settings()
