"""Tag step: system, service, application and task from log group and stream names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.firehose.tags import StreamTags, clean_tag_value, derive_tags


def test_the_convention_gives_all_four_tags():
    """Group /<system>/<service> and stream /<system>/<service>/<container>/<task> give four tags."""
    tags = derive_tags("/cron/billing", "/cron/billing/app/0f1e2d3c")
    assert tags == StreamTags("cron", "billing", "app", "0f1e2d3c")
    assert tags.ddtags(("env:prod",)) == "system:cron,service:billing,application:app,task:0f1e2d3c,env:prod"


@pytest.mark.parametrize(
    ("group", "stream", "expected"),
    [
        ("/aws/lambda/my-fn", "2024/01/01/[$LATEST]abcdef", StreamTags("aws", "my-fn")),
        (
            "/ecs/web",
            "ecs/nginx/0123456789abcdef0123456789abcdef",
            StreamTags("ecs", "web", "nginx", "0123456789abcdef0123456789abcdef"),
        ),
        ("billing", "whatever", StreamTags(service="billing")),
        ("", "", StreamTags()),
        ("/", "/", StreamTags()),
        ("/cron/bill ing?", "/cron/bill ing?/app/t", StreamTags("cron", "bill_ing_", "app", "t")),
    ],
)
def test_names_outside_the_convention_get_sensible_tags(group, stream, expected):
    """Lambda groups, awslogs streams, one-segment and empty names give what they can, never raise."""
    assert derive_tags(group, stream) == expected


def test_custom_patterns_replace_the_convention():
    """A team's own patterns pick the fields from other positions."""
    tags = derive_tags(
        "team-a.payments",
        "payments--worker--abc",
        group_pattern=re.compile(r"^(?P<system>[^.]+)\.(?P<service>.+)$"),
        stream_pattern=re.compile(r"^[^-]+--(?P<application>[^-]+)--(?P<task>.+)$"),
    )
    assert tags == StreamTags("team-a", "payments", "worker", "abc")


def test_partition_keys_always_have_all_three_keys():
    """Partition keys exist for system, service and application even when the names give none."""
    assert StreamTags().partition_keys() == {"system": "unknown", "service": "unknown", "application": "unknown"}
    assert StreamTags("a b", "c/d", "e").partition_keys() == {"system": "a_b", "service": "c_d", "application": "e"}


@given(st.text(), st.text())
def test_any_names_give_clean_tags_and_never_raise(group, stream):
    """For any group and stream, every derived tag is short and uses only Datadog's tag characters."""
    for tag in derive_tags(group, stream).as_tags():
        _key, _, value = tag.partition(":")
        assert value and len(value) <= 200
        assert re.fullmatch(r"[\w\-:./]+", value, re.ASCII)


def test_clean_tag_value_keeps_allowed_characters():
    """Allowed characters pass through; others become underscores; blanks give None."""
    assert clean_tag_value("a-b_c:d.e/f") == "a-b_c:d.e/f"
    assert clean_tag_value("a,b c") == "a_b_c"
    assert clean_tag_value("   ") is None
