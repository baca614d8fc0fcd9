"""Message text as Telegram stores it: the HTML parse mode parsed into plain text plus entities (failing
where Telegram fails), ``bot_command`` entities, and lengths in UTF-16 code units."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from html.parser import HTMLParser

from gateways.telegram_standin.errors import JSONDict, bad_request

MAX_TEXT_LENGTH = 4096

_COMMAND_RE = re.compile(r"(?:^|(?<=\s))/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,64})?")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


_HTML_ENTITY_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "span": "spoiler", "code": "code", "pre": "pre", "a": "text_link", "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _TelegramHtml(HTMLParser):
    """Parses Telegram's HTML subset into plain text plus entities, failing where Telegram fails."""

    def __init__(self, raw: str) -> None:
        super().__init__(convert_charrefs=False)  # so "&lt;" is told apart from a stray "<"
        self.raw = raw
        self.parts: list[str] = []
        self.length = 0
        self.stack: list[tuple[str, dict[str, str | None], int]] = []
        self.entities: list[JSONDict] = []
        self.depths: list[int] = []
        self.error: str | None = None
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", raw)]

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        index = self._line_starts[line - 1] + column
        return len(self.raw[:index].encode())

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message

    def _append(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_len(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_ENTITY_TYPES:
            self._fail(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
            return
        values = dict(attrs)
        if tag == "span" and values.get("class") != "tg-spoiler":
            self._fail(f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte_offset()}')
            return
        self.stack.append((tag, values, self.length))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if self.error is None:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if self.error is not None:
            return
        if not self.stack:
            self._fail(f'Unexpected end tag at byte offset {self._byte_offset()}')
            return
        open_tag, attrs, start = self.stack.pop()
        if open_tag != tag:
            self._fail(f'Unmatched end tag at byte offset {self._byte_offset()}, expected "</{open_tag}>", '
                       f'found "</{tag}>"')
            return
        length = self.length - start
        if tag == "code" and self.stack and self.stack[-1][0] == "pre":
            # <pre><code class="language-x"> is one pre entity with a language, as Telegram reports it.
            language = (attrs.get("class") or "").removeprefix("language-")
            if language:
                self.stack[-1][1]["language"] = language
            return
        if length <= 0:
            return
        entity: JSONDict = {"type": _HTML_ENTITY_TYPES[tag], "offset": start, "length": length}
        self.depths.append(len(self.stack))  # outer entities first when they cover the same text
        if tag == "a":
            entity["url"] = attrs.get("href") or ""
        elif tag == "pre" and attrs.get("language"):
            entity["language"] = attrs["language"]
        elif tag == "blockquote" and "expandable" in attrs:
            entity["type"] = "expandable_blockquote"
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = attrs.get("emoji-id") or ""
        self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        if "<" in data:
            self._fail(f'Unsupported start tag "" at byte offset {self._byte_offset()}')
        self._append(data)

    def handle_entityref(self, name: str) -> None:
        self._append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self._append(html.unescape(f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        self._fail(f'Unsupported start tag "!--" at byte offset {self._byte_offset()}')

    def handle_decl(self, decl: str) -> None:
        self._fail(f'Unsupported start tag "!" at byte offset {self._byte_offset()}')

    def handle_pi(self, data: str) -> None:
        self._fail(f'Unsupported start tag "?" at byte offset {self._byte_offset()}')

    def unknown_decl(self, data: str) -> None:
        self._fail(f'Unsupported start tag "!" at byte offset {self._byte_offset()}')


def render_text(raw: str, parse_mode: str | None, entities: Sequence[JSONDict] | None = None
                ) -> tuple[str, list[JSONDict]]:
    """(plain text, entities) as Telegram stores a message; HTML is parsed, other modes are kept verbatim."""
    if parse_mode is not None and parse_mode.lower() == "html":
        parser = _TelegramHtml(raw)
        parser.feed(raw)
        parser.close()
        if parser.error is None and parser.stack:
            parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1][0]}"'
        if parser.error is not None:
            raise bad_request(f"can't parse entities: {parser.error}")
        ordered = sorted(zip(parser.entities, parser.depths, strict=True),
                         key=lambda pair: (pair[0]["offset"], -pair[0]["length"], pair[1]))
        return "".join(parser.parts), [entity for entity, _depth in ordered]
    # Markdown modes are accepted but not interpreted: the raw text is what the world shows.
    return raw, [dict(entity) for entity in entities or ()]


def message_text(raw: str, parse_mode: str | None, entities: Sequence[JSONDict] | None
                 ) -> tuple[str, list[JSONDict]]:
    """:func:`render_text` of a bot's message, refused as Telegram refuses an empty or too long text."""
    plain, rendered = render_text(raw, parse_mode, entities)
    if not plain.strip():
        raise bad_request("message text is empty")
    if utf16_len(plain) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return plain, rendered


def command_entities(text: str) -> list[JSONDict]:
    """``bot_command`` entities for every /command at a word start, as Telegram's clients mark them."""
    entities = []
    for match in _COMMAND_RE.finditer(text):
        entities.append({"type": "bot_command", "offset": utf16_len(text[: match.start()]),
                         "length": utf16_len(match.group())})
    return entities

