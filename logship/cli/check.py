"""``logship check``: validate the configured API key against the configured API (the site's, or ``DD_API_URL``)."""

from __future__ import annotations

import argparse
from typing import Any

from logship.cli import arguments
from logship.cli.failures import CommandError

#: Seconds to wait for Datadog's answer.
CHECK_TIMEOUT_SECONDS = 10.0
#: Datadog's answer to a refused key (API reference, "Validate API key").
_REFUSED = (401, 403)


def register(sub: Any) -> None:
    """Add the ``check`` subcommand to ``sub``."""
    from logship.settings import DATADOG_ENV_NAMES, DD_API_URL

    check = arguments.add_command(
        sub,
        "check",
        summary="validate the Datadog API key (needs the datadog extra)",
        description=(
            "Validate the API key against the site's API (GET /api/v1/validate, with datadog-api-client:\n"
            "pip install 'logship[datadog]'), and say where logs would go. Exits 1 when the key is not valid."
        ),
        env=(*DATADOG_ENV_NAMES, DD_API_URL, *arguments.aws_env_names()),
    )
    check.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the key with datadog-api-client; exit 1 when Datadog says it is not valid."""
    import urllib3
    from datadog_api_client import ApiClient, Configuration
    from datadog_api_client.exceptions import ApiException
    from datadog_api_client.v1.api.authentication_api import AuthenticationApi

    from logship.datadog.sites import api_url
    from logship.secrets import ApiKeyProvider
    from logship.settings import Settings
    from logship.transport import describe_failure

    settings = Settings.from_env()
    if not settings.datadog_enabled:
        raise CommandError("LOGSHIP_DATADOG_ENABLED is false: logship sends nothing to Datadog, so no key to check")
    keys = ApiKeyProvider(settings.api_key)
    configuration = Configuration(  # type: ignore[no-untyped-call]
        host=settings.api.url, request_timeout=CHECK_TIMEOUT_SECONDS
    )
    configuration.api_key["apiKeyAuth"] = keys.get()
    try:
        with ApiClient(configuration) as client:
            valid = bool(AuthenticationApi(client).validate().valid)  # type: ignore[no-untyped-call]
    except ApiException as err:
        if err.status not in _REFUSED:
            raise CommandError(f"the Datadog API at {settings.api.url} answered HTTP {err.status}") from None
        valid = False
    except urllib3.exceptions.HTTPError as err:
        raise CommandError(f"cannot reach the Datadog API at {settings.api.url}: {describe_failure(err)}") from None
    # Name what was asked: the site only when its own API answered (DD_API_URL may point anywhere).
    url = settings.api.url
    where = f"site {settings.site} ({url})" if url == api_url(settings.site) else url
    print(f"API key from {keys.source} is {'valid' if valid else 'NOT valid'} for {where}")
    print(f"logs go to {settings.logs.url}")
    return 0 if valid else 1
