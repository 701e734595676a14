"""The OCPI 2.1.1 hub double, for members configured with `version = "2.1.1"`: endpoints
without roles, the 2.1.1 credentials handshake (one party, no roles), unencoded tokens (a
Base64 one is noted in `refused`), no routing headers (one carried is noted in `refused`), and
a top-level field the 2.1.1 model lacks refused too. The double itself is `HubDouble` of
tests/doubles/hub_versions.py; what is 2.1.1 about it is the data `V211`."""

from __future__ import annotations

from dataclasses import dataclass

from ocpi import v211
from tests.doubles.hub_versions import HUB, MODULES, V211, HubDouble, HubVersion, Received

__all__ = ["BASE", "HUB", "MODULES", "RECEIVER", "RESULTS", "SENDER", "Hub211", "Received"]

BASE, RECEIVER, SENDER, RESULTS = V211.urls()


@dataclass
class Hub211(HubDouble[v211.Credentials]):
    spec: HubVersion[v211.Credentials] = V211
