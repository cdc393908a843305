"""Datadog sites and the URLs logship talks to on each.

Logs go to ``https://http-intake.logs.<site>/api/v2/logs``; the API (events,
monitors, metrics, key validation) is at ``https://api.<site>`` (Datadog's API
reference; the Datadog Forwarder names that base ``DD_API_URL``).
"""

from __future__ import annotations

#: The path of the HTTP logs intake, v2.
LOGS_INTAKE_PATH = "/api/v2/logs"
DEFAULT_SITE = "datadoghq.com"


def logs_intake_url(site: str = DEFAULT_SITE, base_url: str | None = None) -> str:
    """The URL logs are POSTed to: ``base_url`` (``DD_URL``) when set, else the site's intake."""
    base = base_url or f"https://http-intake.logs.{site}"
    return base.rstrip("/") + LOGS_INTAKE_PATH


def api_url(site: str = DEFAULT_SITE, base_url: str | None = None) -> str:
    """The API base (``DD_API_URL``) when set, else ``https://api.<site>``."""
    return (base_url or f"https://api.{site}").rstrip("/")
