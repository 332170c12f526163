"""The HTTP API: agency ingest, consent, screening (timelines, alerts, Encompass), link review
and the auditors' queries. Each caller holds a token; ``ehx.web`` adds the console beside it."""

from ehx.api.app import create_app
from ehx.api.credentials import AgencyCredentials

__all__ = ["AgencyCredentials", "create_app"]
