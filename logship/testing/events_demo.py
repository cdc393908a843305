"""The ops events demo: every fixture through the Lambda's code into a local Datadog and a local Slack webhook.

Each fixture (real-shaped EventBridge and SNS events, ``tests/fixtures/opsevents``)
goes through :class:`~logship.opsevents.app.OpsEventsApp`, the object the
handler calls, with settings read from a mapping exactly as the Lambda reads
its environment. What each sink received is printed: the Datadog event's
status and title, the Slack message's header, or why the event was skipped;
then one Slack message and one Datadog event in full, as a person sees them.
Last, with a local AWS (moto), Slack goes down for one event: Datadog takes
its copy, the Slack copy lands in the dead letter, and ``logship replay``'s
code sends it to Slack once.
"""

from __future__ import annotations

import dataclasses
import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import logship

#: Where the fixtures are in a source checkout.
DEFAULT_FIXTURES = Path(logship.__file__).resolve().parent.parent / "tests" / "fixtures" / "opsevents"
# The fixture shown in full, and the one sent while Slack is down.
SHOWN = "ecs-task-exit-137-oom"
OUTAGE = "ecs-task-failed-to-start-cannot-pull-not-found"
_BUCKET = "logship-demo-dead-letter"


def read_fixtures(folder: Path) -> dict[Path, Any]:
    """Each fixture file in ``folder``, sorted, and the event it holds.

    ValueError names the folder when it is missing, not a folder or holds
    none, or the file that cannot be read or is not JSON.
    """
    if not folder.exists():
        raise ValueError(f"{folder} does not exist")
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ValueError(f"no fixture events (*.json) in {folder}")
    events: dict[Path, Any] = {}
    for path in files:
        try:
            events[path] = json.loads(path.read_bytes())
        except OSError as err:
            raise ValueError(f"cannot read the fixture {path}: {err.strerror or err}") from err
        except ValueError as err:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not text
            raise ValueError(f"the fixture {path} is not JSON ({err})") from err
    return events


def run_events_demo(*, fixtures: Path = DEFAULT_FIXTURES, full: bool = False, verbose: bool = False) -> int:
    """Run the demo and print it; 0 when every sink got exactly what it should, else 1."""
    from logship.jsonlog import configure_logging
    from logship.opsevents.app import OpsEventsApp
    from logship.testing.emulator import IntakeEmulator
    from logship.testing.slack import SlackWebhookEmulator, render

    events = read_fixtures(fixtures)
    files = list(events)
    configure_logging("INFO" if verbose else "CRITICAL")
    with IntakeEmulator() as datadog, SlackWebhookEmulator() as slack:
        settings = _settings(datadog.url, slack.url)
        print(f"== {len(files)} fixture events through the ops events Lambda's code")
        print(f"   Datadog API: {datadog.url}   Slack webhook: {slack.url.split('/services/')[0]}/services/...")
        with OpsEventsApp(settings) as app:
            for path in files:
                before = (len(datadog.api.events), len(slack.messages))
                summary = app.handle(events[path])
                print(f"-- {path.stem}")
                for line in _what_arrived(summary, datadog.api.events[before[0] :], slack.messages[before[1] :]):
                    print(f"   {line}")
                if full:
                    for message in slack.messages[before[1] :]:
                        print(textwrap.indent(render(message), "      "))
        print(f"== Datadog received {len(datadog.api.events)} events; Slack {len(slack.messages)} messages")
        shown = _shown(files, datadog.api.events, slack.messages)
        if shown is not None:
            event, message = shown
            print(f"== The Slack message for {SHOWN}, as it reads in the channel:")
            print(textwrap.indent(render(message), "   "))
            print(f"== The Datadog event for {SHOWN}, as the Event Explorer shows it:")
            print(textwrap.indent(render_datadog_event(event), "   "))
        return _outage(settings, files) if _has(files, OUTAGE) else 0


def _settings(datadog_url: str, slack_url: str, **extra: str) -> Any:
    """Settings as the Lambda reads them, pointed at the stand-ins; Slack's one-a-second pacing off for speed."""
    from logship.settings import Settings

    settings = Settings.from_env(
        {
            "DD_API_URL": datadog_url,
            "DD_API_KEY": "demo-key",
            "DD_TAGS": "env:demo",
            "SLACK_WEBHOOK_URL": slack_url,
            **extra,
        }
    )
    slack = dataclasses.replace(settings.events.slack, min_interval_seconds=0.0)
    return dataclasses.replace(settings, events=dataclasses.replace(settings.events, slack=slack))


def _what_arrived(
    summary: dict[str, Any], events: list[dict[str, Any]], messages: list[dict[str, Any]]
) -> Iterator[str]:
    for reason, count in summary["skipped"].items():
        yield f"skipped ({reason})" + (f" x{count}" if count > 1 else "")
    if summary["duplicates"]:
        yield f"{summary['duplicates']} duplicate(s): already sent by this warm container, not sent again"
    for event in events:
        yield f"Datadog: [{event.get('alert_type', '?').upper()}] {event['title']}  ({event.get('aggregation_key')})"
    for message in messages:
        header = message["blocks"][0]["text"]["text"] if message.get("blocks") else message.get("text", "")
        yield f"Slack:   {header}"
    if events and not messages:
        yield "Slack:   (not sent: its severity is not in LOGSHIP_SLACK_SEVERITIES)"


def _has(files: list[Path], stem: str) -> bool:
    return any(path.stem == stem for path in files)


def _shown(
    files: list[Path], events: list[dict[str, Any]], messages: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The Datadog event and Slack message of :data:`SHOWN`, when that fixture is in the set."""
    if not _has(files, SHOWN):
        return None
    event = next((e for e in events if "out of memory" in e["title"]), None)
    message = next((m for m in messages if event and m["blocks"][0]["text"]["text"].endswith(event["title"])), None)
    return (event, message) if event and message else None


def render_datadog_event(event: dict[str, Any], *, width: int = 96) -> str:
    """A Datadog event body as the Event Explorer shows it: status, title, source, tags, then the text."""
    text = str(event.get("text", "")).removeprefix("%%% \n").removesuffix("\n %%%")
    text = _MD_LINK.sub(r"\1", text).replace("**", "")
    text = _MD_ITALIC.sub(r"\1", text)
    text = _MD_ESCAPE.sub(r"\1", text)
    head = [
        f"[{str(event.get('alert_type', 'info')).upper()}] {event.get('title', '')}",
        f"source: {event.get('source_type_name', '')}   group: {event.get('aggregation_key', '')}   "
        f"priority: {event.get('priority', '')}",
        "tags: " + " ".join(event.get("tags", [])),
        "",
    ]
    return "\n".join(wrapped for line in head + text.splitlines() for wrapped in _wrap(line, width))


_MD_LINK = re.compile(r"\[((?:\\.|[^\]])*)\]\([^)]*\)")
_MD_ITALIC = re.compile(r"(?<![\w\\])_(\S(?:[^_]*\S)?)_(?!\w)")
_MD_ESCAPE = re.compile(r"\\([\\`*_\[\]<>|#~])")


def _wrap(line: str, width: int) -> list[str]:
    """``line`` folded at ``width``, continuation lines indented like the first."""
    indent = line[: len(line) - len(line.lstrip())]
    return textwrap.wrap(line, width, subsequent_indent=indent + "  ", break_on_hyphens=False) or [""]


def _outage(settings: Any, files: list[Path]) -> int:
    """Slack down for one event: Datadog takes it, the Slack copy is dead-lettered, then replayed once."""
    try:
        from logship.testing.localaws import LocalAws
    except ImportError:  # pragma: no cover - moto is in the dev and demo extras
        print("== (the dead-letter part needs moto: pip install 'logship[demo]')")
        return 0
    from logship.opsevents import deadletter
    from logship.opsevents.app import OpsEventsApp
    from logship.retry import RetryPolicy
    from logship.testing.emulator import IntakeEmulator
    from logship.testing.slack import SlackWebhookEmulator

    event = json.loads(next(path for path in files if path.stem == OUTAGE).read_text(encoding="utf-8"))
    with IntakeEmulator() as datadog, SlackWebhookEmulator() as slack, LocalAws() as aws:
        aws.client("s3").create_bucket(Bucket=_BUCKET)
        settings = _settings(
            datadog.url, slack.url, LOGSHIP_DEAD_LETTER_URI=f"s3://{_BUCKET}/dead-letter", LOGSHIP_TIME_MARGIN_MS="0"
        )
        # Quick retries, so the demo does not wait out the Lambda's patient policy.
        retry = RetryPolicy(max_attempts=3, base_seconds=0.05, cap_seconds=0.2)
        settings = dataclasses.replace(settings, events=dataclasses.replace(settings.events, retry=retry))
        slack.fail_next(*[503] * retry.max_attempts)
        print(f"== Slack answers 503 to every try; {OUTAGE} is sent with a dead letter on a local S3")
        with OpsEventsApp(settings, client_factory=aws.client) as app:
            summary = app.handle(event, _Budget(20_000))
        keys = [item["Key"] for item in aws.client("s3").list_objects_v2(Bucket=_BUCKET).get("Contents", [])]
        print(
            f"   Datadog took its copy ({summary['datadog_sent']} event); Slack failed after "
            f"{summary['slack_requests']} tries; dead-lettered: {', '.join(keys)}"
        )
        with OpsEventsApp(settings, client_factory=aws.client) as app:
            report = deadletter.replay(f"s3://{_BUCKET}/dead-letter/opsevents", app.sinks, aws.client("s3"))
        print(
            f"== logship replay s3://{_BUCKET}/dead-letter/opsevents: sent {report.sent}, deleted {report.deleted}, "
            f"left {report.left}; Datadog now holds {len(datadog.api.events)} event(s), "
            f"Slack {len(slack.messages)} message(s)"
        )
        once = len(datadog.api.events) == 1 and len(slack.messages) == 1 and report.left == 0
        print("== Each sink got the event exactly once." if once else "== Something was lost or sent twice.")
        return 0 if once else 1


class _Budget:
    """A Lambda context with a fixed time budget."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
