"""The member side of OCPI shared by the mock platforms: handshake, versions and credentials.

A CPO or eMSP platform connected to a hub needs the same configuration modules: the
credentials handshake both ways (spec credentials, digest §3.4), a versions endpoint and
2.2.1 version details listing its modules, and somewhere to keep the tokens and the peer's
endpoints. This kit provides them; each service keeps the peer state in its own database
through the small `PeerStore` protocol. No database and no service is imported here.
"""

from ocpi.platform.middleware import RoutingAnswerMiddleware
from ocpi.platform.peer import MemoryPeerStore, PeerState, PeerStore
from ocpi.platform.registration import Principal, Registration
from ocpi.platform.routers import (
    ModuleInterface,
    credentials_router,
    version_endpoints,
    versions_router,
)

__all__ = [
    "MemoryPeerStore",
    "ModuleInterface",
    "PeerState",
    "PeerStore",
    "Principal",
    "Registration",
    "RoutingAnswerMiddleware",
    "credentials_router",
    "version_endpoints",
    "versions_router",
]
