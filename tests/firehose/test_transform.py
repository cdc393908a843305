"""Settling outcomes, purely: records whose logs were not kept, and pieces left behind."""

from __future__ import annotations

from conftest import data_record, firehose_event

from logship.firehose.event import FirehoseEvent
from logship.firehose.transform import fail_unkept, reingest_items, stranded_pieces, transform
from logship.settings import Settings


def outcomes_of(records, limit: int):
    settings = Settings.from_env(
        {"ONLY_JSON": "false", "LOGSHIP_OUTPUT_COMPRESSION": "none", "LOGSHIP_RESPONSE_LIMIT_BYTES": str(limit)}
    )
    return [
        outcome for outcome, _entries in transform(FirehoseEvent.from_dict(firehose_event(records)), settings.transform)
    ]


def test_a_record_too_big_for_any_response_is_ok_with_what_fits_and_puts_back_one_record():
    """Its answer carries the events that fit; exactly one record, the rest of the events, waits for re-ingest."""
    messages = [f"line {n} " + "x" * 200 for n in range(100)]
    [outcome] = outcomes_of([data_record("big", messages)], limit=5_000)
    assert outcome.result == "Ok" and outcome.data
    [piece] = outcome.pieces
    taken = 100 - len(piece.batch.events)
    assert 0 < taken < 100
    assert [e["message"] for e in piece.batch.events] == messages[taken:]


def test_fail_unkept_fails_ok_records_and_drops_their_rest_waiting_for_re_ingest():
    """Ok records at the positions become ProcessingFailed without data; a rest they had is no longer put back."""
    big = data_record("big", [f"line {n} " + "x" * 200 for n in range(100)])
    small = data_record("small", ["a", "b"])
    outcomes = outcomes_of([big, small], limit=5_000)
    assert [o.result for o in outcomes] == ["Ok", "Ok"] and len(reingest_items(outcomes)) == 1
    failed = fail_unkept(outcomes, {0}, "Datadog did not accept its logs and no dead letter is configured")
    assert [o.result for o in failed] == ["ProcessingFailed", "Ok"]
    assert (
        failed[0].data is None
        and failed[0].pieces == ()
        and failed[0].answer()
        == {
            "recordId": "big",
            "result": "ProcessingFailed",
        }
    )
    assert reingest_items(failed) == []
    assert failed[1] is outcomes[1]


def test_stranded_pieces_are_the_failed_ones_of_records_with_others_put_back():
    """Only a record with some pieces put back and some not has stranded pieces; all-failed records have none."""

    class Outcome:
        def __init__(self, pieces: int) -> None:
            self.pieces = tuple(range(pieces))

    outcomes = [Outcome(3), Outcome(1), Outcome(2), Outcome(0)]  # items 0-2, 3, 4-5
    assert stranded_pieces(outcomes, {0, 2, 3, 4, 5}) == [0, 2]  # type: ignore[arg-type]
    assert stranded_pieces(outcomes, {0, 1, 2}) == []  # type: ignore[arg-type]
