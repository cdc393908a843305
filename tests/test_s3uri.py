"""S3 URIs: bucket and prefix come apart, and a bucket name that breaks S3's naming rules is named as the problem."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship import s3uri

LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
# Names made of letter/digit labels joined by single dots or hyphens: always within the rules, when 3-63 long
# and not all digits and dots (an IP address) and not a reserved prefix.
VALID_BUCKETS = st.builds(
    lambda first, rest: first + "".join(sep + label for sep, label in rest),
    LABEL,
    st.lists(st.tuples(st.sampled_from([".", "-"]), LABEL), max_size=6),
).filter(lambda name: 3 <= len(name) <= 63 and not name.replace(".", "").isdigit() and not name.startswith("xn"))


@given(VALID_BUCKETS, st.lists(st.text("abc/-_.0", min_size=1, max_size=5), max_size=4))
def test_valid_buckets_parse_with_any_prefix(bucket, parts):
    """s3://<valid bucket>/<prefix> gives back the bucket and the prefix without surrounding slashes."""
    prefix = "/".join(parts)
    assert s3uri.bucket_problem(bucket) is None
    assert s3uri.parse(f"s3://{bucket}/{prefix}") == (bucket, prefix.strip("/"))


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("s3://ab/x", "'ab' in 's3://ab/x' is 2 characters long; bucket names have 3 to 63"),
        (f"s3://{'a' * 64}/x", "is 64 characters long"),
        ("s3://My_Bucket/x", "only lowercase letters, digits, dots and hyphens"),
        ("s3://-bucket/x", "begin and end with a letter or a digit"),
        ("s3://bucket-/x", "begin and end with a letter or a digit"),
        ("s3://my..bucket/x", "two adjacent dots"),
        ("s3://192.168.5.4/x", "must not be an IP address"),
        ("s3://xn--bucket/x", "must not start with"),
        ("s3://sthree-bucket/x", "must not start with"),
        ("bucket/prefix", "expected an s3:// URI"),
        ("https://bucket/prefix", "expected an s3:// URI"),
        ("s3:///prefix", "no bucket"),
    ],
)
def test_a_bad_uri_says_what_is_wrong(uri, problem):
    """Each rule broken gives its own sentence, quoting the bucket."""
    with pytest.raises(ValueError, match=None) as caught:
        s3uri.parse(uri)
    assert problem in str(caught.value)
