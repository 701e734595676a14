"""The member side of OCPI shared by the mock platforms: handshake, versions and credentials.

A CPO or eMSP platform connected to a hub needs the same configuration modules: the
credentials handshake both ways (spec credentials, digest §3.4), a versions endpoint and
2.2.1 version details listing its modules, and somewhere to keep the tokens and the peer's
endpoints. This kit provides them; each service keeps the peer state in its own database
through the small `PeerStore` protocol. No database and no service is imported here.

The rest of what both mock platforms share lives here too, so that a mock keeps only what
makes it a CPO or an eMSP: `MemberSettings` and `load_config` (settings), `MemberRuntime`
(HTTP client, background tasks, registration retry), `ClientInfoReceiver` (HubClientInfo)
and `OperationError` (the control/app API's error).

A platform may speak another OCPI version than its 2.2.1 core (`MemberSettings.version`): the
version's `VersionAdapter` (adapters) and the edge that applies it (`VersionEdge` for what it
serves, `EdgeTransport` for what it sends; docs/versions.md, "Mock members on 2.3.0" and
"on 2.1.1"); 2.1.1 also reads the platform's state through a `V211Context`.
"""

from ocpi.platform.adapters import (
    SUPPORTED_VERSIONS,
    V211Context,
    VersionAdapter,
    adapter_for,
    driver_with,
)
from ocpi.platform.app import MemberApp, addressed_to, build_member_app, member_app
from ocpi.platform.clientinfo import (
    HUBCLIENTINFO_PATH,
    ClientInfoReceiver,
    KnownParty,
    PartyKey,
    came_back,
    hubclientinfo_router,
    party_key,
)
from ocpi.platform.edge import EdgeTransport, VersionEdge
from ocpi.platform.errors import (
    OperationError,
    bearer_guard,
    operation_error_response,
    optional_json,
    register_on_request,
    rotate_on_request,
)
from ocpi.platform.middleware import RoutingAnswerMiddleware
from ocpi.platform.peer import MemoryPeerStore, PeerState, PeerStore, StateTable, TablePeerStore
from ocpi.platform.registration import Principal, Registration
from ocpi.platform.routers import (
    ModuleInterface,
    credentials_router,
    version_endpoints,
    versions_router,
)
from ocpi.platform.runtime import MemberRuntime, member_registration
from ocpi.platform.settings import (
    ConfigError,
    ConfigSection,
    HubConnection,
    MemberSettings,
    load_config,
)

__all__ = [
    "HUBCLIENTINFO_PATH",
    "SUPPORTED_VERSIONS",
    "ClientInfoReceiver",
    "ConfigError",
    "ConfigSection",
    "EdgeTransport",
    "HubConnection",
    "KnownParty",
    "MemberApp",
    "MemberRuntime",
    "MemberSettings",
    "MemoryPeerStore",
    "ModuleInterface",
    "OperationError",
    "PartyKey",
    "PeerState",
    "PeerStore",
    "Principal",
    "Registration",
    "RoutingAnswerMiddleware",
    "StateTable",
    "TablePeerStore",
    "V211Context",
    "VersionAdapter",
    "VersionEdge",
    "adapter_for",
    "addressed_to",
    "bearer_guard",
    "build_member_app",
    "came_back",
    "credentials_router",
    "driver_with",
    "hubclientinfo_router",
    "load_config",
    "member_app",
    "member_registration",
    "operation_error_response",
    "optional_json",
    "party_key",
    "register_on_request",
    "rotate_on_request",
    "version_endpoints",
    "versions_router",
]
