"""boto3 clients made one way: AWS_REGION as the last resort, an ARN's region first, botocore's errors in words."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError
from hypothesis import given
from hypothesis import strategies as st

from logship.aws import (
    NO_CREDENTIALS,
    NO_REGION,
    ClientCache,
    arn_region,
    boto3_client_factory,
    check_endpoints,
    describe_error,
    resolve_region,
)
from logship.errors import ConfigError

REGIONS = st.from_regex(r"[a-z]{2}(-gov)?-[a-z]{4,9}-[1-9]", fullmatch=True)


@given(REGIONS, st.sampled_from(["secretsmanager", "ssm"]), st.from_regex(r"[a-z/]{1,30}", fullmatch=True))
def test_an_arn_names_its_region(region, service, resource):
    """``arn:aws:<service>:<region>:<account>:<resource>`` gives ``<region>``, whatever the resource holds."""
    assert arn_region(f"arn:aws:{service}:{region}:123456789012:{resource}:x") == region


@pytest.mark.parametrize("name", [None, "", "no-slash", "/datadog/api-key", "arn:aws:ssm::123:parameter/x", "arn:aws"])
def test_a_name_or_an_arn_without_a_region_names_none(name):
    """A plain parameter name, or an ARN with an empty region field, gives no region."""
    assert arn_region(name) is None


@given(st.one_of(st.none(), REGIONS), st.one_of(st.none(), st.just(""), st.just("  "), REGIONS))
def test_aws_region_is_read_only_when_boto3_found_none(configured, aws_region):
    """The region boto3 found (AWS_DEFAULT_REGION, the profile) wins; AWS_REGION fills in; blank is none."""
    environ = {} if aws_region is None else {"AWS_REGION": aws_region}
    expected = configured or (aws_region or "").strip() or None
    assert resolve_region(configured, environ) == expected


def test_the_region_a_call_names_comes_first():
    """A call's region (an ARN's) beats the factory's, which beats the environment's."""
    make = boto3_client_factory("us-west-2")
    assert make("s3", "eu-west-1").meta.region_name == "eu-west-1"
    assert make("s3").meta.region_name == "us-west-2"


def test_botocore_errors_in_one_sentence():
    """No credentials, no region, no answer and an API's error each become one sentence; others are not ours."""
    assert describe_error(NoCredentialsError()) == NO_CREDENTIALS
    assert describe_error(NoRegionError()) == NO_REGION
    assert describe_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:1")) == (
        "cannot reach AWS at http://127.0.0.1:1: check AWS_ENDPOINT_URL and the network"
    )
    error = ClientError({"Error": {"Code": "AccessDenied", "Message": "no\nway"}}, "GetObject")
    assert describe_error(error) == "AWS GetObject failed: AccessDenied: no way"
    assert describe_error(ValueError("x")) is None


def test_a_client_cache_makes_each_service_and_region_once_and_only_when_asked():
    """One client per (service, region), made at the first call: the factory is not called before."""
    made: list[tuple[str, str | None]] = []

    def factory(service: str, region: str | None = None, /) -> object:
        made.append((service, region))
        return object()

    clients = ClientCache(factory)
    assert made == []
    s3 = clients("s3")
    assert clients("s3") is s3
    assert clients("s3", "eu-west-1") is not s3
    assert clients("firehose") is clients("firehose")
    assert made == [("s3", None), ("s3", "eu-west-1"), ("firehose", None)]


def test_a_client_cache_without_a_factory_makes_boto3_clients():
    """No factory: boto3's, with the region the call names."""
    assert ClientCache()("s3", "eu-west-1").meta.region_name == "eu-west-1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AWS_ENDPOINT_URL", "localhost:5000"),
        ("AWS_ENDPOINT_URL", "127.0.0.1:5055"),
        ("AWS_ENDPOINT_URL_FIREHOSE", "ftp://x"),
        ("AWS_ENDPOINT_URL_S3", "http://"),
    ],
)
def test_an_endpoint_variable_that_is_not_an_http_url_is_named(name, value):
    """Each AWS_ENDPOINT_URL* is checked up front: the error names the variable and its value."""
    with pytest.raises(ConfigError, match=rf"^{name} is not a URL \('{value}'\)"):
        check_endpoints({"HOME": "/root", name: value})


def test_http_endpoints_and_unset_ones_pass():
    """http(s) URLs with a host, and blank values (boto3 ignores them), are accepted."""
    check_endpoints({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_S3": "", "PATH": "x:y"})
