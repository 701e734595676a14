"""OCPI 2.2.1 HubClientInfo module objects (spec mod_hub_client_info): ClientInfo."""

from __future__ import annotations

from enum import StrEnum

from ocpi.v221.types import CiString2, CiString3, DateTime, OcpiModel, Role


class ConnectionStatus(StrEnum):
    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


class ClientInfo(OcpiModel):
    party_id: CiString3
    country_code: CiString2
    role: Role
    status: ConnectionStatus
    last_updated: DateTime
