"""S3 URIs: ``s3://bucket/prefix`` split into bucket and prefix, the bucket checked against S3's naming rules.

Rules from the Amazon S3 User Guide, "General purpose bucket naming rules":
3 to 63 characters; lowercase letters, digits, dots and hyphens; a letter or
digit first and last; no two adjacent dots; not an IP address; not starting
with ``xn--``, ``sthree-`` or ``amzn-s3-demo-``. The reserved suffixes
(``-s3alias``, ``--ol-s3``, ``--x-s3``, ...) are not refused: access point
aliases and directory buckets carry them and take S3 calls like a bucket.
"""

from __future__ import annotations

import re

SCHEME = "s3://"
BUCKET_MIN_LENGTH = 3
BUCKET_MAX_LENGTH = 63
_BUCKET_CHARS = re.compile(r"[a-z0-9.\-]+")
_IP_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")


def bucket_problem(name: str) -> str | None:
    """What is wrong with ``name`` as an S3 bucket name, in a few words; None when it follows the rules."""
    problem = None
    if not BUCKET_MIN_LENGTH <= len(name) <= BUCKET_MAX_LENGTH:
        problem = f"is {len(name)} characters long; bucket names have {BUCKET_MIN_LENGTH} to {BUCKET_MAX_LENGTH}"
    elif not _BUCKET_CHARS.fullmatch(name):
        problem = "may hold only lowercase letters, digits, dots and hyphens"
    elif not (name[0].isalnum() and name[-1].isalnum()):
        problem = "must begin and end with a letter or a digit"
    elif ".." in name:
        problem = "must not hold two adjacent dots"
    elif _IP_ADDRESS.fullmatch(name):
        problem = "must not be an IP address"
    elif name.startswith(_RESERVED_PREFIXES):
        problem = f"must not start with {', '.join(_RESERVED_PREFIXES)} (reserved by S3)"
    return problem


def parse(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix``); ValueError saying what is wrong.

    Slashes around the prefix are dropped; the prefix may be empty.
    """
    text = uri.strip()
    if not text.startswith(SCHEME):
        raise ValueError(f"expected an s3:// URI (s3://bucket/prefix), got {uri!r}")
    bucket, _, prefix = text[len(SCHEME) :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r} (expected s3://bucket/prefix)")
    problem = bucket_problem(bucket)
    if problem is not None:
        raise ValueError(f"bucket name {bucket!r} in {uri!r} {problem} (S3 bucket naming rules)")
    return bucket, prefix.strip("/")
