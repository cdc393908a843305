"""CloudWatch Logs subscription filters as a CloudFormation custom resource: one filter per log group.

The SAM template lists log groups in one parameter; CloudFormation sends this
custom resource a Create, Update or Delete request whose ``ResourceProperties``
are::

    LogGroupNames   list of log group names (or one comma-separated string); empty entries ignored
    FilterName      the subscription filter's name, the same in every group
    FilterPattern   CloudWatch Logs filter pattern ("" forwards every event)
    DestinationArn  the delivery stream the filters send to
    RoleArn         the role CloudWatch Logs assumes to put records into it

:func:`plan` turns the old and new properties into puts and deletes (pure);
:func:`apply` carries them out with the CloudWatch Logs API; :func:`handle`
does both for one request and always answers CloudFormation, by PUT to the
pre-signed ``ResponseURL`` with the standard response body, so a failure never
leaves the stack waiting. A filter counts as logship's when it has the
resource's filter name and sends to the resource's destination: only such
filters are updated or deleted; one of that name sending elsewhere is refused,
never taken over.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Literal, Protocol

from logship.errors import LogshipError

logger = logging.getLogger(__name__)

# --- Limits ---------------------------------------------------------------------
# Custom resource response: the body is at most 4,096 bytes; PhysicalResourceId
# at most 1 KB (CloudFormation User Guide, "Custom resource response objects").
RESPONSE_BODY_MAX_BYTES = 4096
PHYSICAL_RESOURCE_ID_MAX_BYTES = 1024
# Log group names: 1-512 characters of a-z, A-Z, 0-9, '_', '-', '/', '.', '#'
# (CloudWatch Logs API reference, CreateLogGroup).
LOG_GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")
# Subscription filter names: 1-512 characters, no ':' or '*'; filter patterns at
# most 1,024 characters (CloudWatch Logs API reference, PutSubscriptionFilter).
FILTER_NAME = re.compile(r"[^:*]{1,512}")
FILTER_PATTERN_MAX_CHARS = 1024
# Seconds kept back from the invocation's remaining time to send the response.
RESPONSE_MARGIN_SECONDS = 15.0
# Time allowed without a Lambda context (a test or a command line): the timeout
# deploy/template.yaml gives the subscriptions function.
DEFAULT_TIME_BUDGET_SECONDS = 300.0
# Backoff between attempts of a transient failure: full jitter, capped.
RETRY_BASE_SECONDS = 1.0
RETRY_CAP_SECONDS = 15.0
# Attempts at delivering the response to the pre-signed URL.
RESPONSE_ATTEMPTS = 4
# Marks a reason shortened to fit the response body.
_CUT = " [...]"

# Error codes worth another attempt: throttling and service hiccups, and the
# test delivery CloudWatch Logs makes when a filter is put, which fails while a
# just-created role or stream has not propagated yet ("Could not deliver test
# message to specified Firehose stream. Check if the given Firehose stream is
# in ACTIVE state.").
_TRANSIENT_CODES = frozenset(
    {"ThrottlingException", "ServiceUnavailableException", "OperationAbortedException", "InternalFailure"}
)
_TEST_MESSAGE_FAILED = "Could not deliver test message"

class SubscriptionError(LogshipError):
    """A subscription filter could not be put or deleted, or the resource's properties are wrong."""


class LogsClient(Protocol):
    """The part of a boto3 CloudWatch Logs client this module calls."""

    def put_subscription_filter(self, **kwargs: Any) -> Any:
        """PutSubscriptionFilter."""
        ...

    def delete_subscription_filter(self, **kwargs: Any) -> Any:
        """DeleteSubscriptionFilter."""
        ...

    def describe_subscription_filters(self, **kwargs: Any) -> Any:
        """DescribeSubscriptionFilters."""
        ...


class LambdaContext(Protocol):
    """The part of the Lambda context this module reads."""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation times out."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    """One resource's properties: which groups, and the filter each of them gets."""

    log_group_names: tuple[str, ...]
    filter_name: str
    filter_pattern: str
    destination_arn: str
    role_arn: str

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> SubscriptionSpec:
        """Read and check ``ResourceProperties``; raise :class:`SubscriptionError` naming the first problem."""
        names = properties.get("LogGroupNames", [])
        if isinstance(names, str):
            names = names.split(",")
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise SubscriptionError(f"LogGroupNames must be a list of log group names, got {names!r}")
        groups: list[str] = []
        for raw in names:
            name = raw.strip()
            if not name or name in groups:
                continue
            if not LOG_GROUP_NAME.fullmatch(name):
                raise SubscriptionError(
                    f"LogGroupNames: {name!r} is not a log group name "
                    "(1-512 characters of letters, digits, '_', '-', '/', '.', '#')"
                )
            groups.append(name)
        filter_name = _text(properties, "FilterName")
        if not FILTER_NAME.fullmatch(filter_name):
            raise SubscriptionError(f"FilterName {filter_name!r} must be 1-512 characters without ':' or '*'")
        pattern = properties.get("FilterPattern", "")
        if not isinstance(pattern, str) or len(pattern) > FILTER_PATTERN_MAX_CHARS:
            raise SubscriptionError(f"FilterPattern must be text of at most {FILTER_PATTERN_MAX_CHARS} characters")
        return cls(
            log_group_names=tuple(groups),
            filter_name=filter_name,
            filter_pattern=pattern,
            destination_arn=_arn(properties, "DestinationArn"),
            role_arn=_arn(properties, "RoleArn"),
        )

    def same_filter(self, other: SubscriptionSpec) -> bool:
        """Whether a group subscribed under ``other`` already has exactly this filter."""
        return (self.filter_name, self.filter_pattern, self.destination_arn, self.role_arn) == (
            other.filter_name,
            other.filter_pattern,
            other.destination_arn,
            other.role_arn,
        )


def _text(properties: Mapping[str, Any], key: str) -> str:
    value = properties.get(key)
    if not isinstance(value, str) or not value:
        raise SubscriptionError(f"{key} is required")
    return value


def _arn(properties: Mapping[str, Any], key: str) -> str:
    value = _text(properties, key)
    if not value.startswith("arn:"):
        raise SubscriptionError(f"{key} must be an ARN, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One step: put ``spec``'s filter on a group, or delete ``spec``'s filter from it."""

    action: Literal["put", "delete"]
    log_group_name: str
    spec: SubscriptionSpec


def plan(old: SubscriptionSpec | None, new: SubscriptionSpec | None) -> list[Change]:
    """The puts and deletes that turn the filters of ``old`` into those of ``new`` (None: no resource).

    Groups only in ``old`` lose their filter; groups only in ``new`` get one; a
    group in both is put again when anything of the filter changed, after its
    old filter is deleted if the filter name changed (CloudWatch allows two
    filters per group, so the old one must go first).
    """
    changes: list[Change] = []
    before = old.log_group_names if old else ()
    after = new.log_group_names if new else ()
    if old is not None:
        changes += [Change("delete", group, old) for group in before if group not in after]
    if new is None:
        return changes
    for group in after:
        if old is None or group not in before:
            changes.append(Change("put", group, new))
        elif not new.same_filter(old):
            if new.filter_name != old.filter_name:
                changes.append(Change("delete", group, old))
            changes.append(Change("put", group, new))
    return changes


@dataclasses.dataclass
class Clock:
    """Time for retries: a monotonic clock and a sleep, swapped in tests."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = dataclasses.field(default_factory=random.Random)


def _code(err: Exception) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _transient(err: Exception) -> bool:
    code = _code(err)
    return code in _TRANSIENT_CODES or (code == "InvalidParameterException" and _TEST_MESSAGE_FAILED in str(err))


def _attempt(call: Callable[[], Any], deadline: float, clock: Clock, what: str) -> Any:
    """Run ``call``, again after transient failures while ``deadline`` allows; the last error propagates."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as err:
            delay = clock.rng.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt))
            if not _transient(err) or clock.now() + delay >= deadline:
                raise
            logger.info("retrying", extra={"operation": what, "error": str(err), "delay_s": round(delay, 2)})
            clock.sleep(delay)
            attempt += 1


def _current_destination(client: LogsClient, group: str, filter_name: str, deadline: float, clock: Clock) -> str | None:
    """The destination of the group's filter named ``filter_name``; None if there is none or no such group."""

    def describe() -> Any:
        return client.describe_subscription_filters(logGroupName=group, filterNamePrefix=filter_name)

    try:
        response = _attempt(describe, deadline, clock, f"describe {group}")
    except Exception as err:
        if _code(err) == "ResourceNotFoundException":
            return None
        raise
    for item in response.get("subscriptionFilters", []):
        if item.get("filterName") == filter_name:
            return str(item.get("destinationArn", ""))
    return None


def _put(client: LogsClient, change: Change, owned: set[str], deadline: float, clock: Clock) -> None:
    spec, group = change.spec, change.log_group_name
    current = _current_destination(client, group, spec.filter_name, deadline, clock)
    if current is not None and current not in owned:
        raise SubscriptionError(
            f"log group {group} already has a subscription filter named {spec.filter_name} "
            f"that sends to {current}; logship does not take it over"
        )

    def put() -> Any:
        return client.put_subscription_filter(
            logGroupName=group,
            filterName=spec.filter_name,
            filterPattern=spec.filter_pattern,
            destinationArn=spec.destination_arn,
            roleArn=spec.role_arn,
        )

    try:
        _attempt(put, deadline, clock, f"put {group}")
    except Exception as err:
        code = _code(err)
        if code == "ResourceNotFoundException":
            raise SubscriptionError(f"log group {group} does not exist") from err
        if code == "LimitExceededException":
            raise SubscriptionError(
                f"log group {group} already has two subscription filters, the most CloudWatch Logs allows"
            ) from err
        raise SubscriptionError(f"log group {group}: {code or type(err).__name__}: {err}") from err


def _delete(client: LogsClient, change: Change, deadline: float, clock: Clock) -> bool:
    """Delete the change's filter if it is logship's; whether one was deleted."""
    spec, group = change.spec, change.log_group_name
    current = _current_destination(client, group, spec.filter_name, deadline, clock)
    if current is None:
        return False
    if current != spec.destination_arn:
        logger.warning(
            "subscription filter left alone",
            extra={"log_group": group, "filter_name": spec.filter_name, "destination_arn": current},
        )
        return False

    def delete() -> Any:
        return client.delete_subscription_filter(logGroupName=group, filterName=spec.filter_name)

    try:
        _attempt(delete, deadline, clock, f"delete {group}")
    except Exception as err:
        if _code(err) == "ResourceNotFoundException":
            return False
        raise SubscriptionError(f"log group {group}: {_code(err) or type(err).__name__}: {err}") from err
    return True


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What :func:`apply` did: groups whose filter was put, groups whose filter was deleted, and failures."""

    put: tuple[str, ...]
    deleted: tuple[str, ...]
    failures: tuple[str, ...]


def apply(
    client: LogsClient,
    changes: Sequence[Change],
    *,
    owned_destinations: set[str],
    deadline: float,
    clock: Clock | None = None,
) -> Outcome:
    """Carry out ``changes`` in order, each group on its own; a failing group does not stop the others.

    ``owned_destinations`` are the destinations a same-named filter may already
    send to and still count as logship's (the old and the new one on an update).
    Transient failures are retried until ``deadline`` (``clock.now()`` seconds).
    """
    clock = clock or Clock()
    put: list[str] = []
    deleted: list[str] = []
    failures: list[str] = []
    for change in changes:
        try:
            if change.action == "put":
                _put(client, change, owned_destinations, deadline, clock)
                put.append(change.log_group_name)
            elif _delete(client, change, deadline, clock):
                deleted.append(change.log_group_name)
        except Exception as err:  # noqa: BLE001 - every group gets its turn; the failures are reported together
            message = str(err) if isinstance(err, SubscriptionError) else f"{change.log_group_name}: {err!r}"
            failures.append(message)
            logger.error("subscription change failed", extra={"action": change.action, "error": message})
    return Outcome(tuple(put), tuple(deleted), tuple(failures))


# --- The CloudFormation protocol ---------------------------------------------------


def response_body(
    event: Mapping[str, Any], status: Literal["SUCCESS", "FAILED"], reason: str, physical_resource_id: str
) -> bytes:
    """The standard custom resource response, with ``reason`` shortened so the body fits 4,096 bytes."""
    body: dict[str, Any] = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_resource_id,
        "StackId": event.get("StackId", ""),
        "RequestId": event.get("RequestId", ""),
        "LogicalResourceId": event.get("LogicalResourceId", ""),
        "NoEcho": False,
        "Data": {},
    }
    keep = len(reason)
    while True:
        body["Reason"] = reason if keep == len(reason) else reason[:keep] + _CUT
        encoded = json.dumps(body).encode()
        if len(encoded) <= RESPONSE_BODY_MAX_BYTES or keep == 0:
            return encoded
        # Every character takes at least one byte, so cutting the excess (and
        # room for the marker) in characters always makes progress.
        keep = max(0, keep - (len(encoded) - RESPONSE_BODY_MAX_BYTES) - len(_CUT))


def send_response(url: str, body: bytes, *, timeout: float = 10.0, clock: Clock | None = None) -> bool:
    """PUT ``body`` to the pre-signed ``url`` as CloudFormation expects (no content type); whether it arrived."""
    clock = clock or Clock()
    for attempt in range(RESPONSE_ATTEMPTS):
        # The URL is signed without a content type, so the request must carry an empty one.
        request = urllib.request.Request(  # noqa: S310 - CloudFormation's own pre-signed https URL
            url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - see above
                if HTTPStatus.OK <= answer.status < HTTPStatus.MULTIPLE_CHOICES:
                    return True
        except (urllib.error.URLError, OSError) as err:
            logger.warning("response not delivered", extra={"attempt": attempt + 1, "error": str(err)})
        if attempt + 1 < RESPONSE_ATTEMPTS:
            clock.sleep(clock.rng.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt)))
    logger.error("response to CloudFormation not delivered; the stack waits for the resource's ServiceTimeout")
    return False


def _physical_id(event: Mapping[str, Any]) -> str:
    existing = event.get("PhysicalResourceId")
    if isinstance(existing, str) and existing:
        return existing
    made = f"{event.get('LogicalResourceId', 'Subscriptions')}-{event.get('RequestId', '')}".rstrip("-")
    return made.encode()[:PHYSICAL_RESOURCE_ID_MAX_BYTES].decode(errors="ignore")


def _spec_or_none(properties: Any) -> SubscriptionSpec | None:
    """The properties of a request that may never have been applied: None when they are not valid."""
    try:
        return SubscriptionSpec.from_properties(properties or {})
    except SubscriptionError as err:
        logger.warning("earlier properties were never applied", extra={"error": str(err)})
        return None


def _run(event: Mapping[str, Any], client: LogsClient, deadline: float, clock: Clock) -> tuple[str, str]:
    """Do what the request asks; (status, reason)."""
    kind = event.get("RequestType")
    old: SubscriptionSpec | None
    new: SubscriptionSpec | None
    if kind == "Create":
        old, new = None, SubscriptionSpec.from_properties(event.get("ResourceProperties") or {})
    elif kind == "Update":
        # Properties that failed validation were never applied (nothing is put
        # before the whole request is valid), so a rollback to them starts from
        # nothing rather than failing again.
        old = _spec_or_none(event.get("OldResourceProperties"))
        new = SubscriptionSpec.from_properties(event.get("ResourceProperties") or {})
    elif kind == "Delete":
        old, new = _spec_or_none(event.get("ResourceProperties")), None
        if old is None:
            return "SUCCESS", "nothing to delete: the properties were never valid, so no filter was put"
    else:
        raise SubscriptionError(f"unknown RequestType {kind!r}")
    owned = {spec.destination_arn for spec in (old, new) if spec is not None}
    outcome = apply(client, plan(old, new), owned_destinations=owned, deadline=deadline, clock=clock)
    if outcome.failures and kind == "Create" and outcome.put and new is not None:
        # A failed Create leaves nothing behind: undo this request's puts, so no
        # filter outlives the stream it sends to when the stack rolls back.
        undo = [Change("delete", group, new) for group in outcome.put]
        apply(client, undo, owned_destinations=owned, deadline=deadline, clock=clock)
    if outcome.failures:
        return "FAILED", "; ".join(outcome.failures)
    subscribed = len(new.log_group_names) if new else 0
    return "SUCCESS", (
        f"{len(outcome.put)} filter(s) put, {len(outcome.deleted)} deleted; {subscribed} log group(s) subscribed"
    )


def handle(
    event: Mapping[str, Any],
    context: LambdaContext | None,
    *,
    logs_client: LogsClient | None = None,
    clock: Clock | None = None,
    send: Callable[[str, bytes], bool] | None = None,
) -> dict[str, str]:
    """Serve one custom resource request and answer CloudFormation; never raises, always answers if it can.

    Returns the status and reason it sent. Without a ``ResponseURL`` there is
    no one to answer; the problem is logged and returned.
    """
    clock = clock or Clock()
    started = clock.now()
    remaining_s = context.get_remaining_time_in_millis() / 1000 if context else DEFAULT_TIME_BUDGET_SECONDS
    deadline = started + max(0.0, remaining_s - RESPONSE_MARGIN_SECONDS)
    physical_id = _physical_id(event)
    try:
        if logs_client is None:
            from logship.aws import boto3_client_factory

            logs_client = boto3_client_factory()("logs")
        status, reason = _run(event, logs_client, deadline, clock)
    except Exception as err:  # noqa: BLE001 - any failure becomes a FAILED answer instead of a stack left waiting
        status, reason = "FAILED", str(err) if isinstance(err, SubscriptionError) else f"{type(err).__name__}: {err}"
    logger.info(
        "custom resource answered",
        extra={"request_type": event.get("RequestType"), "status": status, "reason": reason},
    )
    url = event.get("ResponseURL")
    if not isinstance(url, str) or not url:
        logger.error("no ResponseURL in the request; nothing to answer")
        return {"Status": status, "Reason": reason}
    body = response_body(event, "SUCCESS" if status == "SUCCESS" else "FAILED", reason, physical_id)
    (send or (lambda u, b: send_response(u, b, clock=clock)))(url, body)
    return {"Status": status, "Reason": reason}
