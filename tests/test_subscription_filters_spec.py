"""Reading the custom resource's properties: what CloudFormation sends becomes one checked spec."""

from __future__ import annotations

import pytest

from logship.subscription_filters import SubscriptionError, SubscriptionSpec

BASE = {
    "FilterName": "logship-logship",
    "DestinationArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/logship",
    "RoleArn": "arn:aws:iam::123456789012:role/cwl",
}


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([""], ()),  # the template's default: CommaDelimitedList "" arrives as [""]
        ([], ()),
        ([" /cron/billing ", "/web/checkout", "/cron/billing"], ("/cron/billing", "/web/checkout")),
        ("/a,/b,,/a", ("/a", "/b")),
        (["/web/check-out", "/web/checkout", "/x#y.z_1"], ("/web/check-out", "/web/checkout", "/x#y.z_1")),
        (["a" * 512], ("a" * 512,)),
    ],
)
def test_log_group_names_are_trimmed_deduplicated_and_may_be_empty(names: object, expected: tuple[str, ...]) -> None:
    """Empty entries are ignored, repeats kept once in first order, and every name CloudWatch allows passes."""
    assert SubscriptionSpec.from_properties({**BASE, "LogGroupNames": names}).log_group_names == expected


@pytest.mark.parametrize("name", ["a" * 513, "/with space", "/star*", "/colon:x", "/ü"])
def test_names_cloudwatch_refuses_are_refused_by_name(name: str) -> None:
    """A name outside CloudWatch's rules fails with one error that quotes it."""
    with pytest.raises(SubscriptionError, match="is not a log group name"):
        SubscriptionSpec.from_properties({**BASE, "LogGroupNames": ["/ok", name]})


def test_filter_pattern_defaults_to_every_event() -> None:
    """Without FilterPattern every event is forwarded."""
    assert SubscriptionSpec.from_properties({**BASE, "LogGroupNames": ["/a"]}).filter_pattern == ""


def test_log_group_names_must_be_a_list_of_text() -> None:
    """A mapping or numbers instead of names is refused."""
    with pytest.raises(SubscriptionError, match="LogGroupNames must be a list"):
        SubscriptionSpec.from_properties({**BASE, "LogGroupNames": [1, 2]})
