"""OCPI 2.3.0 HubClientInfo module objects (spec mod_hub_client_info): ClientInfo.

The module text is unchanged from 2.2.1; ClientInfo is redefined because `role` is the 2.3.0
Role, which has no HUB.
"""

from __future__ import annotations

from ocpi.v221.hubclientinfo import ConnectionStatus
from ocpi.v221.types import CiString2, CiString3, DateTime, OcpiModel
from ocpi.v230.types import Role

__all__ = ["ClientInfo", "ConnectionStatus"]


class ClientInfo(OcpiModel):
    party_id: CiString3
    country_code: CiString2
    role: Role
    status: ConnectionStatus
    last_updated: DateTime
