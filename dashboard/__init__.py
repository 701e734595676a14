"""The federation dashboard: a web page served by the project itself, a client of the hub's
admin API and the members' control/app APIs only (docs/dashboard.md).

    app = create_app(DashboardConfig(hub_url, admin_token, members=[(name, role, url), ...]))
"""

from dashboard.app import create_app
from dashboard.config import DashboardConfig, MemberLink
from dashboard.server import RunningDashboard, serve, start

__all__ = ["DashboardConfig", "MemberLink", "RunningDashboard", "create_app", "serve", "start"]
