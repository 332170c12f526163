"""The HTTP API: agency ingest today; consent, timeline, alerts and audit as they land."""

from api.app import create_app
from api.credentials import AgencyCredentials

__all__ = ["AgencyCredentials", "create_app"]
