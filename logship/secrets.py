"""The Datadog API key: from the environment, an SSM SecureString or a Secrets Manager secret.

Fetched at first use, cached across warm invocations, refetched once after a
403 (keys get rotated). The key is never logged and never put in an exception
message; errors name where the key comes from instead.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from logship.errors import AuthError, ConfigError
from logship.settings import Settings

ClientFactory = Callable[[str], Any]


def boto3_client_factory(region: str | None = None) -> ClientFactory:
    """A factory of boto3 clients; boto3 is imported on first use, never at import time."""

    def make(service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=region)

    return make


class ApiKeyProvider:
    """Holds the Datadog API key, fetching it lazily from where the settings say."""

    def __init__(self, settings: Settings, client_factory: ClientFactory | None = None) -> None:
        self.settings = settings
        self.source = settings.api_key_source
        self._client_factory = client_factory or boto3_client_factory()
        self._key: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ApiKeyProvider(source={self.source!r})"

    def get(self) -> str:
        """The key, fetched on first call and cached."""
        with self._lock:
            if self._key is None:
                self._key = self._fetch()
            return self._key

    def refresh(self, stale: str) -> str:
        """Fetch the key again unless another thread already replaced ``stale``."""
        with self._lock:
            if self._key == stale or self._key is None:
                self._key = self._fetch()
            return self._key

    @property
    def refreshable(self) -> bool:
        """Whether refetching can give a different key (not for a key set in the environment)."""
        return not self.settings.dd_api_key

    def _fetch(self) -> str:
        settings = self.settings
        if settings.dd_api_key:
            return settings.dd_api_key
        try:
            if settings.dd_api_key_ssm_name:
                client = self._client_factory("ssm")
                response = client.get_parameter(Name=settings.dd_api_key_ssm_name, WithDecryption=True)
                key = str(response["Parameter"]["Value"])
            elif settings.dd_api_key_secret_arn:
                client = self._client_factory("secretsmanager")
                response = client.get_secret_value(SecretId=settings.dd_api_key_secret_arn)
                key = _key_from_secret(str(response.get("SecretString", "")))
            else:
                raise ConfigError(f"no Datadog API key configured: the key comes from {self.source}")
        except (ConfigError, AuthError):
            raise
        except Exception as err:
            # The error text of a failed fetch never holds the key (we do not have it).
            raise AuthError(
                f"could not read the Datadog API key from {self.source}: {type(err).__name__}: {err}"
            ) from err
        key = key.strip()
        if not key:
            raise AuthError(f"the Datadog API key from {self.source} is empty")
        return key


def _key_from_secret(secret: str) -> str:
    """A secret holds the key as plain text or as JSON ``{"DD_API_KEY": "..."}``."""
    text = secret.strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return text
        if isinstance(doc, dict):
            for name in ("DD_API_KEY", "dd_api_key", "api_key", "apiKey"):
                if isinstance(doc.get(name), str):
                    return str(doc[name])
            raise AuthError("the secret is JSON but has no DD_API_KEY field")
    return text
