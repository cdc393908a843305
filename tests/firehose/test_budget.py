"""Response budget: sizes measured as the runtime serializes them, records charged exactly."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from logship.firehose.budget import ResponseBudget, entry_size, response_size
from logship.firehose.event import RecordResult


def test_entry_size_matches_json_dumps():
    """entry_size equals the length of json.dumps of the same record."""
    record = RecordResult("rid-1", "Ok", "QUJD", {"system": "a", "service": "b", "application": "c"}).to_dict()
    assert entry_size("rid-1", "Ok", 4, {"system": "a", "service": "b", "application": "c"}) == len(json.dumps(record))


@given(
    st.lists(
        st.tuples(st.sampled_from(["Ok", "Dropped", "ProcessingFailed"]), st.integers(0, 300)),
        min_size=0,
        max_size=30,
    )
)
def test_budget_accounting_is_an_upper_bound_of_the_real_response(records):
    """Whatever mix of results, the budget's count is at least the serialized response's size."""
    ids = [f"id-{n}" for n in range(len(records))]
    budget = ResponseBudget(10**9, ids)
    results = []
    for rid, (result, data_len) in zip(ids, records, strict=True):
        if result == "Ok":
            assert budget.take(budget.ok_cost(rid, data_len, None))
            results.append(RecordResult(rid, "Ok", "A" * data_len))
        else:
            results.append(RecordResult(rid, result))
    response = {"records": [r.to_dict() for r in results]}
    assert response_size(response) <= budget.used
    # Exact when every record is Ok: the reservation is the only slack.
    if all(r == "Ok" for r, _ in records):
        assert response_size(response) == budget.used


def test_take_refuses_what_does_not_fit():
    """Take charges only what fits."""
    budget = ResponseBudget(200, ["a"])
    cost = budget.ok_cost("a", 500, None)
    assert not budget.take(cost)
    assert budget.take(budget.ok_cost("a", 10, None))


@given(
    st.text(),
    st.sampled_from(["Ok", "Dropped", "ProcessingFailed"]),
    st.integers(-1, 10**6),
    st.none() | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)
def test_entry_size_is_counted_exactly_for_any_record_id(record_id, result, data_len, keys):
    """Counted without serializing, the size equals json.dumps of the record, whatever the id's characters."""
    record: dict[str, object] = {"recordId": record_id, "result": result}
    if data_len >= 0:
        record["data"] = "A" * data_len
    if keys is not None:
        record["metadata"] = {"partitionKeys": keys}
    assert entry_size(record_id, result, data_len, keys) == len(json.dumps(record))
