"""`logship events demo`: every fixture through the Lambda's code into the local Datadog and Slack, printed."""

from __future__ import annotations

import pytest
from opsfixtures import FIXTURE_NAMES

from logship.cli import main


def test_events_demo_shows_each_fixture_and_ends_with_each_sink_served_once(capsys):
    """The demo prints a line per fixture, one Slack message and one Datadog event in full, and the outage replay."""
    assert main(["events", "demo"]) == 0
    out = capsys.readouterr().out
    assert f"== {len(FIXTURE_NAMES)} fixture events through the ops events Lambda's code" in out
    assert all(f"-- {name}\n" in out for name in FIXTURE_NAMES)
    assert "Datadog: [ERROR] ECS task web in prod: out of memory  (ecs:prod:service:web)" in out
    assert "Slack:   (not sent: its severity is not in LOGSHIP_SLACK_SEVERITIES)" in out
    assert "skipped (unknown_source)" in out and "2 duplicate(s)" in out
    assert "   🔴 ECS task web in prod: out of memory\n   ┃ (colour bar #E01E5A)" in out
    assert "   [ERROR] ECS task web in prod: out of memory\n   source: amazon_ecs" in out
    assert "== Each sink got the event exactly once." in out


def test_events_demo_without_fixtures_says_so_in_one_line(tmp_path, capsys):
    """A fixtures folder with no events exits 1 with one line naming the folder, no traceback."""
    assert main(["events", "demo", "--fixtures", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"logship events: error: no fixture events (*.json) in {tmp_path}; "
        "give a folder of event JSON files with --fixtures\n"
    )


def test_events_without_a_subcommand_is_a_usage_mistake(capsys):
    """`logship events` alone exits 2 with one line pointing at its help."""
    with pytest.raises(SystemExit) as caught:
        main(["events"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "logship events: error:" in err


def test_events_demo_with_a_missing_fixtures_folder_says_it_does_not_exist(tmp_path, capsys):
    """A --fixtures path that is not there is said as such, not as a folder without events."""
    missing = tmp_path / "nope"
    assert main(["events", "demo", "--fixtures", str(missing)]) == 1
    assert capsys.readouterr().err == (
        f"logship events: error: {missing} does not exist; give a folder of event JSON files with --fixtures\n"
    )
