"""Hub configuration: where it listens, who it is, where it keeps its state, how patient it is."""

from __future__ import annotations

from pydantic import BaseModel, Field

LIVE_SETTINGS = frozenset(
    {
        "forward_timeout",
        "still_alive_after",
        "still_alive_interval",
        "page_limit",
        "log_flush_interval",
    }
)
"""The settings `Hub.reconfigure` changes on a running hub; every other one is fixed when the
hub is built (who it is, where it listens and keeps its state, how it authenticates)."""


class HubSettings(BaseModel):
    """Everything `create_app` needs; `roam hub serve` fills it from options and ROAM_HUB_* env."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    base_url: str | None = None
    """Public URL members use to reach the hub; defaults to http://{host}:{port}."""
    country_code: str = "EU"
    party_id: str = "HUB"
    name: str = "Roaming hub simulator"
    database_url: str = "sqlite:///var/hub.db"
    admin_token: str | None = None
    """Bearer token of the admin API; when None one is generated and kept in the database."""
    forward_timeout: float = Field(default=10.0, gt=0)
    """Seconds the hub waits for a member before answering 4002."""
    still_alive_after: float = Field(default=300.0, gt=0)
    """Seconds of silence after which the hub checks a platform with GET versions (spec: 5 min)."""
    still_alive_interval: float = Field(default=30.0, gt=0)
    """How often the still-alive loop looks for silent platforms."""
    page_limit: int = Field(default=100, ge=1)
    """X-Limit of the hub's own paginated lists (GET-all, hubclientinfo)."""
    accept_raw_tokens: bool = False
    """Also accept unencoded tokens from 2.1.1/2.2-era peers (spec 2.2.1-d2 "Authorization")."""
    log_flush_interval: float = Field(default=0.05, gt=0)
    """The message log and object copies are written in batches at most this far apart."""

    delivery_attempts: int = Field(default=20, ge=1)
    """How often a broadcast is offered to a receiver that fails (HTTP 5xx, timeout, a broken
    answer) before the hub gives it up; an OFFLINE receiver is not retried but waited for."""
    delivery_backoff_max: float = Field(default=10.0, gt=0)
    """The longest pause between two attempts (pauses double from 0.1 s up to this)."""
    delivery_concurrency: int = Field(default=8, ge=1)
    """Requests in flight at once to one receiver, each for a different object (one object's
    updates always in order)."""
    drain_timeout: float = Field(default=5.0, ge=0)
    """On stop, seconds the delivery lanes get to deliver what they hold (the rest stays in
    the outbox for the next start)."""

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def versions_url(self) -> str:
        return f"{self.public_url}/ocpi/versions"

    @property
    def details_url(self) -> str:
        return self.details_url_of("2.2.1")

    def details_url_of(self, version: str) -> str:
        """The base of the hub's endpoints for members of an OCPI version."""
        return f"{self.public_url}/ocpi/{version}"
