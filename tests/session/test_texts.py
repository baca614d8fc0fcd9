"""The message catalog: values are escaped and cut before escaping, so Telegram always gets valid HTML within its
4,096-character limit (checked with the stand-in's parser, which refuses what Telegram refuses)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateways.telegram_standin import MAX_TEXT_LENGTH, render_text, utf16_len
from trivia_actors.session import texts


@pytest.mark.parametrize("value", [
    "&" * 5000,  # each becomes an entity: a cut after escaping would split one
    "<b>" * 3000,  # each becomes &lt;b&gt;
    "🏁" * 3000,  # two UTF-16 units each, as Telegram counts
    "x" * 10_000,
])
def test_long_values_are_cut_before_escaping(value: str) -> None:
    text = texts.render("incorrect", answer=value, score=7)
    plain, _rendered = render_text(text, "HTML", None)
    assert utf16_len(plain) <= MAX_TEXT_LENGTH
    assert plain.startswith("❌ Wrong. The answer is ") and plain.endswith("….\nTotal: 7")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=6000), st.text(max_size=200))
def test_any_value_renders_to_html_telegram_accepts(answer: str, explanation: str) -> None:
    text = texts.render("incorrect", answer=answer, score=1) + texts.render("explanation", explanation=explanation)
    plain, _rendered = render_text(text, "HTML", None)  # raises on malformed HTML, as Telegram answers 400
    assert utf16_len(plain) <= 2 * MAX_TEXT_LENGTH  # two messages' worth, each within the limit
