"""Tag step: system, service, application and task from log group and stream names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.firehose.tags import StreamTags, clean_tag_value, derive_tags, normalize_tag, user_tags
from logship.settings import Settings


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
        ("/cron/bill ing?", "/cron/bill ing?/app/t", StreamTags("cron", "bill_ing", "app", "t")),
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
    """For any group and stream, every derived tag is one Datadog keeps as it is: its own tag rules hold."""
    for tag in derive_tags(group, stream).as_tags():
        _key, _, value = tag.partition(":")
        assert value and len(tag) <= 200
        assert all(c.isalpha() or c.isdecimal() or c in "_-:./" for c in value)
        assert "__" not in tag and not tag.endswith(("_", ":"))
        assert normalize_tag(tag) == tag


def test_clean_tag_value_keeps_allowed_characters():
    """Allowed characters pass through; others become underscores; blanks give None."""
    assert clean_tag_value("a-b_c:d.e/f") == "a-b_c:d.e/f"
    assert clean_tag_value("a,b c") == "a_b_c"
    assert clean_tag_value("   ") is None


@pytest.mark.parametrize(
    ("tag", "stored"),
    [
        ("env:prod", "env:prod"),
        ("Env:Prod", "env:prod"),  # lower case
        ("team:core infra", "team:core_infra"),  # other characters: one underscore
        ("a!!b__c", "a_b_c"),  # runs of them too, underscores included
        ("owner_", "owner"),  # no trailing underscore
        ("env:", "env"),  # no trailing colon
        ("2fa:on", "fa:on"),  # starts with a letter
        ("_x:y", "x:y"),
        ("équipe:Données", "équipe:données"),  # letters of any script
        ("region:us-east-1/a.b", "region:us-east-1/a.b"),
        ("x" * 250, "x" * 200),  # at most 200 characters
        ("!!!", ""),
    ],
)
def test_tags_follow_datadogs_tag_rules(tag, stored):
    """A tag is stored as Datadog would store it: lower case, allowed characters, letter first, 200 at most."""
    assert normalize_tag(tag) == stored


def test_user_tags_are_normalised_and_each_change_is_named_once():
    """DD_TAGS is normalised; every tag that changed is named once, with what it became."""
    tags, changed = user_tags(("env:prod", "Owner", "Team:Core", "Infra", "!!", "env:prod"))
    assert tags == ("env:prod", "owner", "team:core", "infra")
    assert changed == {"Owner": "owner", "Team:Core": "team:core", "Infra": "infra", "!!": "(dropped)"}


def test_clean_tags_are_kept_as_written():
    """Tags already as Datadog stores them are kept as written, and nothing is said of them."""
    assert user_tags(("env:prod", "team:core")) == (("env:prod", "team:core"), {})


def test_a_changed_dd_tags_is_one_warning_at_cold_start(caplog, make_app):
    """Settings note each DD_TAGS tag Datadog would change; the Lambda says it once, as a warning, when built."""
    caplog.set_level("WARNING", logger="logship")
    settings = Settings.from_env({"DD_TAGS": "env:prod Owner,Team:Core"})
    assert settings.tags == ("env:prod", "owner", "team:core")
    make_app(settings)
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "'Owner' -> 'owner'" in warning.getMessage() and "'Team:Core' -> 'team:core'" in warning.getMessage()


def test_one_service_tag_at_most():
    """A service: tag in DD_TAGS replaces the derived one; service=False leaves every service: tag out."""
    tags = StreamTags("cron", "billing", "app", "t")
    assert tags.ddtags(("env:prod",)) == "system:cron,service:billing,application:app,task:t,env:prod"
    assert tags.ddtags(("service:jobs",)) == "system:cron,application:app,task:t,service:jobs"
    assert tags.ddtags(("service:jobs", "env:prod"), service=False) == "system:cron,application:app,task:t,env:prod"
