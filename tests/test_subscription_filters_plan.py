"""Hypothesis properties of the subscriptions custom resource: the plan reaches the new state, touching nothing else."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from logship.subscription_filters import RESPONSE_BODY_MAX_BYTES, Change, SubscriptionSpec, plan, response_body

GROUPS = ["/a/b", "/a/b-c", "/a/bc", "/x#1", "/y.z", "/q_r"]
STREAMS = ["arn:aws:firehose:us-east-1:1:deliverystream/one", "arn:aws:firehose:us-east-1:1:deliverystream/two"]
FOREIGN = "arn:aws:firehose:us-east-1:1:deliverystream/someone-else"

specs = st.builds(
    SubscriptionSpec,
    log_group_names=st.lists(st.sampled_from(GROUPS), unique=True).map(tuple),
    filter_name=st.sampled_from(["logship", "renamed"]),
    filter_pattern=st.sampled_from(["", "ERROR"]),
    destination_arn=st.sampled_from(STREAMS),
    role_arn=st.sampled_from(["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]),
)
State = dict[str, dict[str, tuple[str, str, str]]]


def applied(state: State, changes: list[Change]) -> State:
    """What CloudWatch holds after the changes, with the executor's rule: delete only a filter sending to spec's stream."""
    result = {group: dict(found) for group, found in state.items()}
    for change in changes:
        spec, found = change.spec, result.setdefault(change.log_group_name, {})
        if change.action == "put":
            found[spec.filter_name] = (spec.destination_arn, spec.filter_pattern, spec.role_arn)
        elif found.get(spec.filter_name, ("",))[0] == spec.destination_arn:
            del found[spec.filter_name]
    return result


def logship_filters(state: State, group: str) -> dict[str, tuple[str, str, str]]:
    return {name: value for name, value in state.get(group, {}).items() if value[0] in STREAMS}


@given(old=st.none() | specs, new=st.none() | specs, foreign=st.lists(st.sampled_from(GROUPS), unique=True))
def test_plan_turns_the_old_filters_into_the_new_ones_and_nothing_else(
    old: SubscriptionSpec | None, new: SubscriptionSpec | None, foreign: list[str]
) -> None:
    """After the plan, each new group has exactly the new filter, no other group keeps one, foreign filters stay."""
    start: State = {group: {"other": (FOREIGN, "", "r")} for group in foreign}
    start = applied(start, plan(None, old))
    end = applied(start, plan(old, new))
    for group in GROUPS:
        expected = {}
        if new is not None and group in new.log_group_names:
            expected = {new.filter_name: (new.destination_arn, new.filter_pattern, new.role_arn)}
        assert logship_filters(end, group) == expected, group
        if group in foreign:
            assert end[group]["other"] == (FOREIGN, "", "r")
    assert applied(end, plan(old, new)) == end  # a repeated request (Lambda retries) changes nothing more


@given(spec=specs)
def test_an_unchanged_resource_needs_no_call(spec: SubscriptionSpec) -> None:
    """An update that changes nothing plans nothing."""
    assert plan(spec, spec) == []


@given(spec=specs)
def test_create_puts_and_delete_deletes_each_group_once(spec: SubscriptionSpec) -> None:
    """Create is one put per group, Delete one delete per group, in the listed order."""
    assert [(c.action, c.log_group_name) for c in plan(None, spec)] == [("put", g) for g in spec.log_group_names]
    assert [(c.action, c.log_group_name) for c in plan(spec, None)] == [("delete", g) for g in spec.log_group_names]


@given(
    reason=st.text(st.characters(codec="utf-8"), max_size=6000),
    request_id=st.text(st.characters(codec="utf-8"), max_size=60),
)
def test_response_body_always_fits_and_keeps_what_fits(reason: str, request_id: str) -> None:
    """The body is JSON within 4,096 bytes; the reason is whole when it fits, else a prefix marked as cut."""
    event = {"StackId": "arn:aws:cloudformation:us-east-1:1:stack/s/1", "RequestId": request_id,
             "LogicalResourceId": "LogSubscriptions"}
    body = response_body(event, "FAILED", reason, "LogSubscriptions-1")
    assert len(body) <= RESPONSE_BODY_MAX_BYTES
    decoded = json.loads(body)
    assert decoded["RequestId"] == request_id and decoded["Status"] == "FAILED"
    whole = response_body(event, "FAILED", "", "LogSubscriptions-1")
    if len(whole) + len(json.dumps(reason).encode()) - 2 <= RESPONSE_BODY_MAX_BYTES:
        assert decoded["Reason"] == reason
    else:
        assert decoded["Reason"].endswith(" [...]") and reason.startswith(decoded["Reason"][: -len(" [...]")])
