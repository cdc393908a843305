"""Datadog's API (events, monitors, metrics, key validation) through datadog-api-client.

The API is at ``https://api.<site>``, or at ``DD_API_URL`` (the Datadog
Forwarder's name for it; tests and the demo point it at the local emulator).
The API key comes from the same :class:`~logship.secrets.SecretProvider` as
the log path's; managing monitors also needs an application key
(``DD_APP_KEY``). datadog-api-client (the ``datadog`` extra) is imported when a
client is made, never at import time: its import alone costs about 200 ms.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from logship.datadog.sites import api_url
from logship.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ApiOptions:
    """Where the API is and how patient to be: base URL, seconds per request, retries of 429 and 5xx.

    ``connect_retries`` counts the retries of a connection that could not be made at all (refused,
    name not resolved) within ``max_retries``; 0, the default, says so at once instead of after the
    client's backoff (2, 4, 8 seconds).
    """

    url: str = api_url()
    timeout_seconds: float = 10.0
    max_retries: int = 3
    connect_retries: int = 0


def api_client(options: ApiOptions, api_key: str, application_key: str | None = None) -> Any:
    """A ``datadog_api_client.ApiClient`` for ``options.url`` with the keys set; close it after use.

    Raises :class:`~logship.errors.ConfigError` naming the extra to install
    when datadog-api-client is missing.
    """
    try:
        from datadog_api_client import ApiClient, Configuration
    except ImportError as err:
        raise ConfigError("datadog-api-client is not installed: pip install 'logship[datadog]'") from err
    from datadog_api_client.rest import ClientRetry

    configuration = Configuration(  # type: ignore[no-untyped-call]  # the client's __init__ is unannotated
        host=options.url,
        request_timeout=options.timeout_seconds,
        enable_retry=True,
        max_retries=options.max_retries,
        # The client's own policy (429 and 5xx, honouring X-Ratelimit-Reset), with connection failures apart.
        retry_policy=ClientRetry(
            total=options.max_retries,
            connect=min(options.connect_retries, options.max_retries),
            backoff_factor=2,
        ),
    )
    configuration.api_key["apiKeyAuth"] = api_key
    if application_key:
        configuration.api_key["appKeyAuth"] = application_key
    return ApiClient(configuration)
