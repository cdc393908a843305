"""Hard limits of the Slack and Datadog payloads an ops event becomes, each with its source.

The payload builders keep every message inside these, cutting visibly
(:func:`logship.opsevents.truncate.truncate`) rather than letting Slack reject
the message or Datadog cut it silently.
"""

from __future__ import annotations

# --- Slack (Block Kit, incoming webhooks) ---------------------------------------
# chat.postMessage / incoming webhooks: top-level `text` is truncated after 40,000
# characters. https://api.slack.com/methods/chat.postMessage#truncating
SLACK_TEXT_MAX_CHARS = 40_000
# "You can include up to 50 blocks in each message." https://api.slack.com/reference/block-kit/blocks
SLACK_MAX_BLOCKS = 50
# Section block: `text` at most 3,000 characters; `fields` at most 10 items of at most
# 2,000 characters each. https://api.slack.com/reference/block-kit/blocks#section
SLACK_SECTION_TEXT_MAX_CHARS = 3_000
SLACK_SECTION_MAX_FIELDS = 10
SLACK_FIELD_MAX_CHARS = 2_000
# Header block: plain_text `text` at most 150 characters. https://api.slack.com/reference/block-kit/blocks#header
SLACK_HEADER_MAX_CHARS = 150
# Context block: at most 10 elements; a text object's `text` at most 3,000 characters.
# https://api.slack.com/reference/block-kit/blocks#context, .../composition-objects#text
SLACK_CONTEXT_MAX_ELEMENTS = 10
SLACK_TEXT_OBJECT_MAX_CHARS = 3_000

# --- Datadog Events API (POST /api/v1/events) ----------------------------------------
# `text`: "Limited to 4000 characters", markdown between "%%% \n" and "\n %%%".
# `aggregation_key`: "Limited to 100 characters". `date_happened`: POSIX seconds,
# "Limited to events no older than 18 hours". https://docs.datadoghq.com/api/latest/events/
DATADOG_EVENT_TEXT_MAX_CHARS = 4_000
DATADOG_AGGREGATION_KEY_MAX_CHARS = 100
DATADOG_EVENT_MAX_AGE_SECONDS = 18 * 3600
# v1 documents no title limit; the v2 Events API allows 500 characters, so a title
# within 500 reads the same through either. (datadog-api-client, v2 EventPayload.title)
DATADOG_EVENT_TITLE_MAX_CHARS = 500
# v2 EventPayload.tags: "Maximum of 100 tags allowed"; one tag at most 200 characters
# (https://docs.datadoghq.com/getting_started/tagging/).
DATADOG_EVENT_MAX_TAGS = 100
DATADOG_TAG_MAX_CHARS = 200
