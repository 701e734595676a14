"""The OCPI 2.3.0 hub double, for members configured with `version = "2.3.0"`: endpoints of
both interfaces, the credentials handshake answered the 2.3.0 way (`hub_party_id` and the
reachable parties in `roles`, docs/versions.md), Base64 tokens and routing headers. The double
itself is `HubDouble` of tests/doubles/hub_versions.py; what is 2.3.0 about it is the data
`V230`."""

from __future__ import annotations

from dataclasses import dataclass

from ocpi import v230
from tests.doubles.hub_versions import HUB, MODULES, V230, HubDouble, HubVersion, Received

__all__ = ["BASE", "HUB", "MODULES", "RECEIVER", "RESULTS", "SENDER", "Hub230", "Received"]

BASE, RECEIVER, SENDER, RESULTS = V230.urls()


@dataclass
class Hub230(HubDouble[v230.Credentials]):
    spec: HubVersion[v230.Credentials] = V230
