"""Secrets (the Datadog API key, a Slack webhook URL): the environment, SSM or Secrets Manager.

A :class:`SecretSource` says where a secret lives, following one naming rule:
``NAME`` holds the value itself, ``NAME_SSM_NAME`` an SSM SecureString
parameter, ``NAME_SECRET_ARN`` a Secrets Manager secret (plain text or JSON).
A :class:`SecretProvider` fetches it at first use, caches it across warm
invocations and refetches it once when the receiver refuses it (secrets get
rotated). A parameter or secret named by its ARN is read in the region the
ARN names. A secret is never logged and never put in an exception message;
errors name where it comes from instead.
"""

from __future__ import annotations

import dataclasses
import json
import threading

from logship.aws import ClientFactory, arn_region, boto3_client_factory, describe_error, error_code
from logship.errors import AuthError, ConfigError

#: JSON fields a Secrets Manager secret may hold the Datadog API key in.
DD_API_KEY_FIELDS = ("DD_API_KEY", "dd_api_key", "api_key", "apiKey")
#: ... and the application key.
DD_APP_KEY_FIELDS = ("DD_APP_KEY", "dd_app_key", "app_key", "appKey", "application_key")

# Answers of SSM and Secrets Manager (and KMS, for the decryption) that mean the
# configuration is wrong (the name, the ARN, the role's permissions, the key's
# policy), not that the service is briefly unavailable: no retry can fix them.
_CONFIG_ERROR_CODES = frozenset(
    {
        "ParameterNotFound",
        "ParameterVersionNotFound",
        "ResourceNotFoundException",
        "AccessDeniedException",
        "AccessDenied",
        "ValidationException",
        "InvalidParameterException",
        "InvalidRequestException",
        "DecryptionFailure",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "UnrecognizedClientException",
    }
)
# botocore's errors for a client that cannot sign or route a request at all: the client's
# setup (credentials, region) is wrong, not the name of the parameter or the role's rights.
_CLIENT_SETUP_ERRORS = frozenset({"NoCredentialsError", "PartialCredentialsError", "NoRegionError"})


@dataclasses.dataclass(frozen=True)
class SecretSource:
    """Where one secret lives; ``env_name`` is the variable naming it (``DD_API_KEY``), for messages.

    At most one of ``value``, ``ssm_name`` and ``secret_arn`` is used, in that
    order. ``json_fields`` are the fields a JSON secret may hold it in.
    """

    env_name: str = "DD_API_KEY"
    value: str | None = dataclasses.field(default=None, repr=False)
    ssm_name: str | None = None
    secret_arn: str | None = None
    json_fields: tuple[str, ...] = DD_API_KEY_FIELDS

    @property
    def configured(self) -> bool:
        """Whether any source is set."""
        return bool(self.value or self.ssm_name or self.secret_arn)

    def describe(self) -> str:
        """Where the secret comes from, for messages (never the secret)."""
        if self.value:
            return f"environment variable {self.env_name}"
        if self.ssm_name:
            return f"SSM parameter {self.ssm_name}"
        if self.secret_arn:
            return f"Secrets Manager secret {self.secret_arn}"
        name = self.env_name
        return f"nowhere (no {name}, {name}_SSM_NAME or {name}_SECRET_ARN set)"

    @property
    def region(self) -> str | None:
        """The region the parameter's or secret's ARN names; None for a value or a plain parameter name."""
        if self.value:
            return None
        return arn_region(self.ssm_name or self.secret_arn)


class SecretProvider:
    """Holds one secret, fetched lazily from its :class:`SecretSource`; thread-safe."""

    def __init__(self, source: SecretSource, client_factory: ClientFactory | None = None) -> None:
        self.secret_source = source
        #: Where the secret comes from, for messages.
        self.source = source.describe()
        self._client_factory = client_factory or boto3_client_factory()
        self._value: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source={self.source!r})"

    def get(self) -> str:
        """The secret, fetched on first call and cached.

        Raises :class:`~logship.errors.ConfigError` when no source is set or
        the source cannot be read for a reason of configuration (no such
        parameter or secret, access denied, empty), naming what to fix; and
        :class:`~logship.errors.AuthError` when reading failed for a passing
        reason (throttled, unreachable), which a later try may not meet.
        """
        with self._lock:
            if self._value is None:
                self._value = self._fetch()
            return self._value

    def refresh(self, stale: str) -> str:
        """Fetch the secret again unless another thread already replaced ``stale``."""
        with self._lock:
            if self._value == stale or self._value is None:
                self._value = self._fetch()
            return self._value

    @property
    def refreshable(self) -> bool:
        """Whether refetching can give another value (not for one set in the environment)."""
        return not self.secret_source.value

    def _fetch(self) -> str:
        source = self.secret_source
        if source.value:
            return source.value
        try:
            if source.ssm_name:
                client = self._client_factory("ssm", source.region)
                response = client.get_parameter(Name=source.ssm_name, WithDecryption=True)
                value = str(response["Parameter"]["Value"])
            elif source.secret_arn:
                client = self._client_factory("secretsmanager", source.region)
                response = client.get_secret_value(SecretId=source.secret_arn)
                value = _from_secret(str(response.get("SecretString", "")), source.json_fields, source.env_name)
            else:
                name = source.env_name
                raise ConfigError(f"no {name} configured: set {name}, {name}_SSM_NAME or {name}_SECRET_ARN")
        except (ConfigError, AuthError):
            raise
        except Exception as err:
            # The text of a failed fetch never holds the secret (we do not have it).
            raise _read_error(source, self.source, err) from err
        value = value.strip()
        if not value:
            raise ConfigError(f"{source.env_name} from {self.source} is empty")
        return value


def _read_error(source: SecretSource, where: str, err: Exception) -> ConfigError | AuthError:
    """The error for a failed read: ConfigError naming what to fix, or AuthError for a passing fault.

    No credentials or no region is the client's setup, said as such; an
    answer that the name, the ARN or the role's rights are wrong names the
    variable to check.
    """
    code = error_code(err)
    if code in _CLIENT_SETUP_ERRORS:
        return ConfigError(f"could not read {source.env_name} from {where}: {describe_error(err)}")
    response = getattr(err, "response", None)  # botocore's ClientError carries the service's answer
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    problem = f"{code}: {error.get('Message') or err}" if code else f"{type(err).__name__}: {err}"
    if code in _CONFIG_ERROR_CODES:
        variable = f"{source.env_name}_SSM_NAME" if source.ssm_name else f"{source.env_name}_SECRET_ARN"
        return ConfigError(
            f"could not read {source.env_name} from {where} ({problem}); check {variable} "
            "and that the role may read it (and decrypt it with its KMS key)"
        )
    return AuthError(f"could not read {source.env_name} from {where}: {problem}")


class ApiKeyProvider(SecretProvider):
    """The Datadog API key (``DD_API_KEY``, ``DD_API_KEY_SSM_NAME`` or ``DD_API_KEY_SECRET_ARN``)."""


def _from_secret(secret: str, fields: tuple[str, ...], env_name: str) -> str:
    """A secret holds the value as plain text or as JSON ``{"<field>": "..."}``."""
    text = secret.strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return text
        if isinstance(doc, dict):
            for name in fields:
                if isinstance(doc.get(name), str):
                    return str(doc[name])
            raise ConfigError(f"the secret for {env_name} is JSON but has none of the fields {', '.join(fields)}")
    return text
