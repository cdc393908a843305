"""Broken characters: lone surrogates and invalid UTF-8 cost one U+FFFD each, never the text around them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from logship.firehose.characters import REPLACEMENT, decode_utf8, scrub, scrub_text


def test_a_lone_surrogate_becomes_one_replacement_character():
    """A cut emoji (a lone high or low surrogate) is replaced, and counted, the rest kept."""
    assert scrub_text("emoji cut \ud83d here") == ("emoji cut \ufffd here", 1)
    assert scrub_text("\udc00x\ud800") == ("\ufffdx\ufffd", 2)


def test_a_split_surrogate_pair_is_joined_not_replaced():
    """A high and a low surrogate next to each other are the character they encode."""
    assert scrub_text("a\ud83d\ude00b") == ("a\U0001f600b", 0)


def test_valid_text_comes_back_as_is():
    """Valid text, replacement characters included, is returned unchanged and not counted."""
    text = "ok \ufffd ✅"
    fixed, count = scrub_text(text)
    assert fixed is text and count == 0


def test_invalid_utf8_is_replaced_and_only_new_replacements_counted():
    """Each invalid UTF-8 sequence becomes U+FFFD; a U+FFFD already there is not counted."""
    assert decode_utf8("ok \ufffd ".encode() + b"\xff bad \xc3") == ("ok \ufffd \ufffd bad \ufffd", 2)
    assert decode_utf8(b"fine") == ("fine", 0)


def test_parsed_json_is_scrubbed_in_keys_and_values():
    """Every string of a parsed JSON value, keys included, is scrubbed; the count adds up."""
    value = {"k\ud800": ["x\udfff", {"y": "\ud83d"}], "n": 1}
    assert scrub(value) == ({"k\ufffd": ["x\ufffd", {"y": "\ufffd"}], "n": 1}, 3)


@given(st.text())
def test_scrubbed_text_is_always_valid_utf8(text):
    """Whatever the text, the scrubbed text encodes as UTF-8, and valid text is unchanged."""
    fixed, count = scrub_text(text)
    fixed.encode("utf-8")
    assert count == fixed.count(REPLACEMENT) - text.count(REPLACEMENT)
    if not any("\ud800" <= c <= "\udfff" for c in text):
        assert fixed == text
