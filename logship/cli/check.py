"""``logship check``: validate the configured API key against the configured site."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``check`` subcommand to ``sub``."""
    check = sub.add_parser("check", help="validate the Datadog API key (needs datadog-api-client)")
    check.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the key with datadog-api-client; exit 1 when Datadog says it is not valid."""
    from datadog_api_client import ApiClient, Configuration
    from datadog_api_client.v1.api.authentication_api import AuthenticationApi

    from logship.secrets import ApiKeyProvider
    from logship.settings import Settings

    settings = Settings.from_env()
    keys = ApiKeyProvider(settings.api_key)
    configuration = Configuration()  # type: ignore[no-untyped-call]
    configuration.server_variables["site"] = settings.site
    configuration.api_key["apiKeyAuth"] = keys.get()
    with ApiClient(configuration) as client:
        valid = AuthenticationApi(client).validate().valid  # type: ignore[no-untyped-call]
    print(f"API key from {keys.source} is {'valid' if valid else 'NOT valid'} for site {settings.site}")
    print(f"logs go to {settings.logs.url}")
    return 0 if valid else 1
