"""Console links: current URL shapes, the partition's host, quoted names, and no link without a region."""

from __future__ import annotations

import pytest

from logship.opsevents import console
from logship.opsevents.arns import ecs_cluster_name, ecs_service_names, ecs_task_id, task_definition


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us-east-1", "https://us-east-1.console.aws.amazon.com"),
        ("ap-northeast-1", "https://ap-northeast-1.console.aws.amazon.com"),
        ("cn-north-1", "https://cn-north-1.console.amazonaws.cn"),
        ("us-gov-west-1", "https://us-gov-west-1.console.amazonaws-us-gov.com"),
        ("", None),
        ("evil.example/x", None),
        ("US-EAST-1", None),
    ],
)
def test_console_host_follows_the_partition(region, host):
    """Commercial, China and GovCloud regions have their own console host; a non-region gives none."""
    assert console.console_host(region) == host


def test_names_are_quoted_so_a_link_cannot_be_broken():
    """Slashes, spaces and query characters in a name are percent-encoded inside the path."""
    url = console.ecs_service("us-east-1", "prod", "web app/?x=1")
    assert url == "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/web%20app%2F%3Fx%3D1/health?region=us-east-1"


def test_missing_parts_give_no_link():
    """Without a region, cluster, task or name there is no link rather than a wrong one."""
    assert console.ecs_task("", "prod", "abc") is None
    assert console.ecs_task("us-east-1", "", "abc") is None
    assert console.ecs_service("us-east-1", "prod", "") is None
    assert console.codebuild_build("us-east-1", "", "p", "p:1") is None
    assert console.stepfunctions_execution("us-east-1", "") is None


def test_pipeline_link_without_an_execution_is_the_pipeline_page():
    """With no execution id, the pipeline link opens the pipeline itself."""
    assert console.pipeline_execution("eu-west-1", "release", "") == (
        "https://eu-west-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/release/view?region=eu-west-1"
    )


def test_cloudwatch_log_links_use_the_consoles_double_quoting():
    """A log group /aws/codebuild/x is written $252Faws$252Fcodebuild$252Fx in the CloudWatch console."""
    assert console.cloudwatch_log_stream("us-east-1", "/aws/codebuild/web", "abc/1") == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/"
        "$252Faws$252Fcodebuild$252Fweb/log-events/abc$252F1"
    )


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://console.aws.amazon.com/cloudwatch/home?region=x#logEvent:group=/a;stream=b", True),
        ("http://example.com", False),
        ("javascript:alert(1)", False),
        ("https://example.com/a b", False),
        ("https://example.com/<x>", False),
        ("https://example.com/" + "x" * 3_000, False),
    ],
)
def test_only_plain_https_urls_from_events_are_kept(url, kept):
    """A URL found inside an event is linked only when it is https and has nothing that could break markup."""
    assert (console.safe_url(url) is not None) is kept


def test_arn_names_in_both_formats():
    """Long and short ECS ARNs, task definitions, and things that are not ARNs at all."""
    assert ecs_cluster_name("arn:aws:ecs:us-east-1:1:cluster/prod") == "prod"
    assert ecs_cluster_name("prod") == "prod"
    assert ecs_task_id("arn:aws:ecs:us-east-1:1:task/prod/abc") == "abc"
    assert ecs_task_id("arn:aws:ecs:us-east-1:1:task/abc") == "abc"
    assert ecs_service_names("arn:aws:ecs:us-east-1:1:service/prod/web") == ("prod", "web")
    assert ecs_service_names("arn:aws:ecs:us-east-1:1:service/web") == ("", "web")
    assert task_definition("arn:aws:ecs:us-east-1:1:task-definition/web:42") == ("web", 42)
    assert task_definition("arn:aws:ecs:us-east-1:1:task-definition/web:x²") == ("web", None)
    assert task_definition("not an arn") == ("", None)
