"""Datadog sites and the URLs logship talks to on each; ``DD_SITE`` and ``DD_URL`` read strictly.

Logs go to ``https://http-intake.logs.<site>/api/v2/logs``; the API (events,
monitors, metrics, key validation) is at ``https://api.<site>`` (Datadog's API
reference; the Datadog Forwarder names that base ``DD_API_URL``). A base URL
that replaces either is a full ``http(s)://`` URL, or a host alone, as the
Datadog Forwarder's ``DD_URL`` is written (then read as ``https://``).
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlsplit

#: The path of the HTTP logs intake, v2.
LOGS_INTAKE_PATH = "/api/v2/logs"
DEFAULT_SITE = "datadoghq.com"

#: Datadog's sites: the ``site`` values of Datadog's API reference, as
#: datadog-api-client lists them (tests/datadog/test_sites.py checks the two agree).
SITES: tuple[str, ...] = (
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "uk1.datadoghq.com",
    "datadoghq.eu",
    "ddog-gov.com",
    "us2.ddog-gov.com",
)

_SCHEMES = ("http", "https")
# A host name (RFC 1123 labels) or an IPv4 address, with an optional port: the Forwarder's DD_URL form.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_ONLY = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}(?::\d{{1,5}})?")
_MAX_PORT = 65_535


def logs_intake_url(site: str = DEFAULT_SITE, base_url: str | None = None) -> str:
    """The URL logs are POSTed to: ``base_url`` (``DD_URL``) when set, else the site's intake.

    A base URL that already ends with the intake path is used as it is.
    """
    base = (base_url or f"https://http-intake.logs.{site}").rstrip("/")
    return base if base.endswith(LOGS_INTAKE_PATH) else base + LOGS_INTAKE_PATH


def api_url(site: str = DEFAULT_SITE, base_url: str | None = None) -> str:
    """The API base (``DD_API_URL``) when set, else ``https://api.<site>``."""
    return (base_url or f"https://api.{site}").rstrip("/")


def parse_site(text: str, name: str = "DD_SITE") -> str:
    """The site ``text`` names (case and surrounding blanks ignored); ValueError naming ``name`` otherwise.

    A URL or a host such as ``http-intake.logs.datadoghq.eu`` is refused with
    the site it points at, since ``DD_SITE`` is only ever the site's name.
    """
    site = text.strip().lower()
    if site in SITES:
        return site
    host = urlsplit(site).hostname if "://" in site else site.split("/", 1)[0]
    # The longest match: http-intake.logs.us3.datadoghq.com is us3.datadoghq.com, not datadoghq.com.
    matches = [known for known in SITES if host == known or (host or "").endswith("." + known)]
    guess = max(matches, key=len) if matches else None
    if "://" in site or guess is not None:
        hint = f"use {name}={guess}" if guess else f"use one of {', '.join(SITES)}"
        raise ValueError(
            f"{name} is a Datadog site name, not a URL or host: {hint} (or DD_URL for a full URL), got {text!r}"
        )
    raise ValueError(f"{name} must be one of Datadog's sites ({', '.join(SITES)}), got {text!r}")


@dataclasses.dataclass(frozen=True)
class BaseUrl:
    """A base URL read from the environment: the URL, and whether ``https://`` was assumed for a bare host."""

    url: str
    assumed_https: bool = False


def parse_base_url(text: str, name: str) -> BaseUrl:
    """``text`` as an ``http(s)://`` base URL, or a bare ``host[:port]`` read as ``https://``; ValueError otherwise.

    The error names ``name`` (the variable) and says which forms are accepted.
    """
    raw = text.strip()
    forms = f"{name} must be an http:// or https:// URL, or a host name alone (the Datadog Forwarder's form)"
    if "://" not in raw:
        if not _HOST_ONLY.fullmatch(raw) or not _port_ok(raw.rpartition(":")[2] if ":" in raw else None):
            raise ValueError(f"{forms}, got {text!r}")
        return BaseUrl(f"https://{raw}", assumed_https=True)
    parts = urlsplit(raw)
    if parts.scheme.lower() not in _SCHEMES:
        raise ValueError(f"{forms}, got {text!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{name} has an invalid port, got {text!r}") from None
    if not parts.hostname or not _port_ok(None if port is None else str(port)):
        raise ValueError(f"{name} has no host or an invalid port, got {text!r}")
    if parts.username or parts.password or parts.query or parts.fragment or " " in raw:
        raise ValueError(f"{name} must hold no credentials, query or fragment, got {text!r}")
    return BaseUrl(f"{parts.scheme.lower()}://{parts.netloc}{parts.path.rstrip('/')}")


def _port_ok(port: str | None) -> bool:
    return port is None or (port.isdigit() and 0 < int(port) <= _MAX_PORT)
