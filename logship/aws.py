"""boto3 clients made one way: the region (``AWS_REGION`` too), the endpoint checked, botocore's errors in words.

boto3 reads the region from ``AWS_DEFAULT_REGION`` and the profile only
(boto3's configuration guide; boto/boto3#3620), while the Lambda runtime, the
AWS CLI and the other SDKs set or read ``AWS_REGION``: :func:`boto3_client_factory`
falls back to it. A client for a resource named by its ARN (a secret, an SSM
parameter) uses the region the ARN names, since that is where the resource
is. boto3 is imported when the first client is made, never at import time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from logship.errors import ConfigError

#: The region variable the Lambda runtime, the AWS CLI and the other SDKs read (boto3 does not).
AWS_REGION = "AWS_REGION"
#: The region variable boto3 reads.
AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"
#: botocore's endpoint variable; ``AWS_ENDPOINT_URL_<SERVICE>`` overrides it for one service.
AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"

NO_REGION = f"no AWS region set: set {AWS_REGION} (or {AWS_DEFAULT_REGION}, or a profile's region)"
NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    f"(for a local endpoint, {AWS_ENDPOINT_URL} and any dummy keys)"
)
# botocore's errors that come before any request: the client has no credentials or no region.
_SETUP_ERRORS = frozenset({"NoCredentialsError", "PartialCredentialsError", "NoRegionError"})
# arn:partition:service:region:account:resource (IAM user guide, "Amazon Resource Names").
_ARN_FIELDS = 6
_ARN_REGION = 3


class ClientFactory(Protocol):
    """Makes a boto3 client for ``service`` (``"s3"``, ``"firehose"``), in ``region`` when one is given."""

    def __call__(self, service: str, region: str | None = None, /) -> Any:
        """The client."""
        ...


def arn_region(name: str | None) -> str | None:
    """The region an ARN names (``arn:aws:ssm:eu-west-1:...`` -> ``eu-west-1``); None for a plain name."""
    if not name or not name.startswith("arn:"):
        return None
    parts = name.split(":", _ARN_FIELDS - 1)
    return (parts[_ARN_REGION] or None) if len(parts) == _ARN_FIELDS else None


def resolve_region(configured: str | None, environ: Mapping[str, str]) -> str | None:
    """The region boto3 found (``AWS_DEFAULT_REGION``, the profile), else ``AWS_REGION``; None when none is set."""
    return configured or environ.get(AWS_REGION, "").strip() or None


def boto3_client_factory(region: str | None = None) -> ClientFactory:
    """A factory of boto3 clients in ``region``, else the region a call names, else :func:`resolve_region`'s.

    The region a call names (an ARN's) comes first. An endpoint variable that
    is not a URL raises :class:`~logship.errors.ConfigError` naming it.
    """

    def make(service: str, in_region: str | None = None, /) -> Any:
        import boto3

        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
        name = in_region or region or resolve_region(session.region_name, os.environ)
        try:
            return session.client(service, region_name=name)
        except ValueError as err:
            if str(err).startswith("Invalid endpoint"):
                raise ConfigError(_endpoint_problem(str(err).partition(": ")[2], os.environ)) from err
            raise

    return make


class ClientCache:
    """A :class:`ClientFactory` that makes each client once: one per service and region, on first use.

    boto3 clients are thread-safe and keep their connections, so one of each
    serves an app's whole life (a warm Lambda's invocations). ``factory``
    makes them; :func:`boto3_client_factory`'s when None (made at the first
    client, since it imports boto3).
    """

    def __init__(self, factory: ClientFactory | None = None) -> None:
        """Clients from ``factory`` (boto3's when None)."""
        self._factory = factory
        self._clients: dict[tuple[str, str | None], Any] = {}

    def __call__(self, service: str, region: str | None = None, /) -> Any:
        """The client for ``service`` in ``region`` (the factory's region when None)."""
        key = (service, region)
        client = self._clients.get(key)
        if client is None:
            if self._factory is None:
                self._factory = boto3_client_factory()
            client = self._clients[key] = self._factory(service, region)
        return client


def check_endpoints(environ: Mapping[str, str]) -> None:
    """Raise :class:`~logship.errors.ConfigError` for an endpoint variable that is not an http(s) URL.

    ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``, checked before any
    work is done, so that a command does not find the mistake only when it
    first calls AWS (boto3 checks at that point, with ``Invalid endpoint``).
    """
    for name in sorted(environ):
        value = environ[name].strip()
        if not name.startswith(AWS_ENDPOINT_URL) or not value:
            continue
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(_endpoint_problem(value, {name: environ[name]}))


def _endpoint_problem(endpoint: str, environ: Mapping[str, str]) -> str:
    """What is wrong with ``endpoint``, naming the variable that holds it (or the config file)."""
    names = sorted(name for name, value in environ.items() if name.startswith(AWS_ENDPOINT_URL) and value == endpoint)
    where = " and ".join(names) if names else "endpoint_url in the AWS config file"
    return f"{where} is not a URL ({endpoint!r}): give the scheme, host and port, such as http://127.0.0.1:5000"


def describe_error(err: BaseException) -> str | None:
    """One sentence for one of botocore's errors; None for anything else (botocore is not imported here).

    No credentials, no region, an endpoint out of reach, and an API's answer
    (``AWS <Operation> failed: <Code>: <Message>``).
    """
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None or not isinstance(err, exceptions.BotoCoreError | exceptions.ClientError):
        return None
    if isinstance(err, exceptions.NoCredentialsError | exceptions.PartialCredentialsError):
        return NO_CREDENTIALS
    if isinstance(err, exceptions.NoRegionError):
        return NO_REGION
    if isinstance(err, exceptions.EndpointConnectionError):
        return f"cannot reach AWS at {err.kwargs.get('endpoint_url')}: check {AWS_ENDPOINT_URL} and the network"
    if isinstance(err, exceptions.ClientError):
        code, message = error_code(err), err.response.get("Error", {}).get("Message", "")
        return " ".join(f"AWS {err.operation_name} failed: {code}: {message}".split())
    return " ".join(f"AWS: {err}".split())


def error_code(err: BaseException) -> str | None:
    """The AWS error code of ``err`` (``ResourceNotFoundException``); None for anything else.

    An error botocore raises before any request gives its class name
    (``NoCredentialsError``, ``PartialCredentialsError``, ``NoRegionError``).
    """
    response = getattr(err, "response", None)  # botocore's ClientError carries the service's answer
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    name = type(err).__name__
    return name if name in _SETUP_ERRORS else None
