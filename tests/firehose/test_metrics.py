"""What an invocation tells once deployed: a summary that explains every event, and CloudWatch metrics (EMF)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import FakeContext, control_record, data_record, firehose_event
from hypothesis import given
from hypothesis import strategies as st

from logship.emf import UNITS
from logship.firehose.entries import EntryOptions, build_entries
from logship.firehose.metrics import METRICS
from logship.firehose.redact import MessageFilter
from logship.firehose.subscription import LogBatch
from logship.firehose.tags import derive_tags
from logship.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# The three names the template's alarms read.
ALARMED = ("RecordsProcessingFailed", "EntriesDeadLettered", "ReingestFailedRecords")


def check_emf(doc: dict[str, Any]) -> dict[str, str]:
    """Check ``doc`` as the EMF specification says; return its metric names and units."""
    meta = doc["_aws"]
    assert isinstance(meta["Timestamp"], int)
    [directive] = meta["CloudWatchMetrics"]
    assert set(directive) == {"Namespace", "Dimensions", "Metrics"}
    assert isinstance(directive["Namespace"], str) and 1 <= len(directive["Namespace"]) <= 255
    for dimension_set in directive["Dimensions"]:
        assert 1 <= len(dimension_set) <= 30
        for name in dimension_set:
            assert isinstance(doc[name], str) and doc[name]  # a dimension is a top-level string member
    assert len(directive["Metrics"]) <= 100
    units = {}
    for definition in directive["Metrics"]:
        assert set(definition) <= {"Name", "Unit", "StorageResolution"}
        assert definition["Unit"] in UNITS
        value = doc[definition["Name"]]  # a metric is a top-level number member
        assert isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        units[definition["Name"]] = definition["Unit"]
    assert len(units) == len(directive["Metrics"])
    return units


def test_the_lambda_prints_one_emf_line_per_invocation(intake, tmp_path):
    """Through the handler: one JSON line on stdout per invocation, valid EMF, namespace logship, per stream."""
    event = firehose_event(
        [data_record("r1", ['{"msg": "a"}', "plain"]), control_record("c1"), {"recordId": "bad", "data": "!!"}],
        stream="orders-logs",
    )
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    code = (
        "import json, sys\n"
        "import handlers.firehose\n"
        "event = json.load(open(sys.argv[1]))\n"
        "handlers.firehose.handler(event, None)\n"
        "handlers.firehose.handler(event, None)\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "DD_URL": intake.url, "DD_API_KEY": "k"}
    before_ms = int(time.time() * 1000)
    out = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True, cwd=ROOT, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        doc = json.loads(line)
        units = check_emf(doc)
        assert before_ms <= doc["_aws"]["Timestamp"] <= int(time.time() * 1000)
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "logship"
        assert directive["Dimensions"] == [["DeliveryStream"]]
        assert doc["DeliveryStream"] == "orders-logs"
        assert set(ALARMED) <= set(units)
        assert units["InvocationTime"] == "Milliseconds" and units["ResponseBytes"] == "Bytes"
        assert (doc["Records"], doc["RecordsOk"], doc["RecordsDropped"], doc["RecordsProcessingFailed"]) == (3, 1, 1, 1)
        assert (doc["EventsToS3"], doc["EntriesAccepted"], doc["EventsNotJson"]) == (2, 1, 1)
        assert doc["invocationId"] == event["invocationId"]


def test_every_summary_field_named_in_the_metrics_exists(intake, make_app):
    """The metric table reads real summary fields, each a number."""
    summary = make_app(Settings.from_env({"DD_URL": intake.url, "DD_API_KEY": "k"})).process(
        firehose_event([data_record("r1", ["a"])]), FakeContext()
    ).summary
    for _name, field, unit in METRICS:
        assert isinstance(getattr(summary, field), int | float), field
        assert unit in UNITS


def test_the_summary_explains_events_not_sent(intake, make_app):
    """Events in S3 but not in Datadog are counted: not JSON (ONLY_JSON) or filtered out (include/exclude)."""
    messages = ['{"msg": "keep"}', "plain line", '{"msg": "drop me"}', "[1, 2]", '{"msg": "keep too"}']
    app = make_app(
        Settings.from_env({"DD_URL": intake.url, "DD_API_KEY": "k", "LOGSHIP_EXCLUDE_AT_MATCH": "drop me"})
    )
    summary = app.process(firehose_event([data_record("r1", messages)]), FakeContext()).summary
    assert summary.events_to_s3 == 5
    assert (summary.dd_accepted, summary.events_not_json, summary.events_filtered) == (2, 2, 1)
    assert summary.events_to_s3 == summary.dd_accepted + summary.events_not_json + summary.events_filtered
    assert sorted(e["msg"] for e in intake.entries) == ["keep", "keep too"]


MESSAGES = st.lists(
    st.one_of(
        st.text(max_size=30),
        st.dictionaries(st.sampled_from(["msg", "level", "n"]), st.text(max_size=10), max_size=3).map(json.dumps),
    ),
    max_size=30,
)


@given(MESSAGES, st.booleans(), st.sampled_from([None, "a", "^x", "1"]), st.sampled_from([None, "b", "2"]))
def test_every_event_is_an_entry_or_counted_as_left_out(messages, only_json, include, exclude):
    """build_entries: entries + not JSON + filtered out == events, for any messages and filters."""
    import re

    batch = LogBatch(
        "DATA_MESSAGE",
        "/cron/billing",
        "/cron/billing/app/0f1e2d3c",
        [{"id": str(n), "timestamp": n, "message": m} for n, m in enumerate(messages)],
    )
    message_filter = MessageFilter.build(
        include=re.compile(include) if include else None, exclude=re.compile(exclude) if exclude else None
    )
    options = EntryOptions(only_json=only_json, message_filter=message_filter)
    entries = build_entries(batch, derive_tags(batch.log_group, batch.log_stream), options)
    assert len(entries) + entries.not_json + entries.filtered == len(messages)
    if not only_json:
        assert entries.not_json == 0
    if message_filter is None:
        assert entries.filtered == 0
