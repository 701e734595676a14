"""Hub configuration: where it listens, who it is, and where it keeps its state."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HubSettings(BaseModel):
    """Everything `create_app` needs; `roam hub serve` fills it from options and ROAM_HUB_* env."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    base_url: str | None = None
    """Public URL members use to reach the hub; defaults to http://{host}:{port}."""
    country_code: str = "EU"
    party_id: str = "HUB"
    name: str = "Roaming hub simulator"
    invite_token: str | None = None
    """A credentials token A the hub accepts on its versions endpoints (until onboarding lands)."""

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def versions_url(self) -> str:
        return f"{self.public_url}/ocpi/versions"
