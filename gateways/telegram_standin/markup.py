"""reply_markup as Telegram checks it, and inline keyboards as the user side sees them."""

from __future__ import annotations

from typing import Any

from gateways.telegram_standin.errors import JSONDict, bad_request

MAX_CALLBACK_DATA_BYTES = 64


def flatten_buttons(markup: JSONDict | None) -> list[list[JSONDict]]:
    """Inline keyboard rows as [[{"text", "callback_data", ...}]], for the user side."""
    if not markup or not isinstance(markup.get("inline_keyboard"), list):
        return []
    rows = []
    for row in markup["inline_keyboard"]:
        out = []
        for button in row:
            item: JSONDict = {"text": button.get("text", ""), "callback_data": button.get("callback_data")}
            if button.get("url"):
                item["url"] = button["url"]
            out.append(item)
        rows.append(out)
    return rows


def validate_reply_markup(markup: Any) -> JSONDict | None:
    """Check a reply_markup the way Telegram does for what the stand-in understands; returns it as a dict."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return markup  # reply keyboards, ForceReply, ReplyKeyboardRemove: kept as given
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse inline keyboard button: field \"inline_keyboard\" must be an Array of "
                          "Arrays")
    actions = ("callback_data", "url", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
               "switch_inline_query_chosen_chat", "callback_game", "pay", "web_app", "copy_text")
    for row in rows:
        for button in row:
            if not isinstance(button, dict):
                raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an "
                                  "Object")
            if not isinstance(button.get("text"), str) or not button["text"]:
                raise bad_request("BUTTON_TEXT_INVALID")
            if not any(key in button for key in actions):
                raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the "
                                  "inline keyboard")
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not data or len(data.encode()) > MAX_CALLBACK_DATA_BYTES:
                    raise bad_request("BUTTON_DATA_INVALID")
    return markup


def inline_only(markup: JSONDict | None) -> JSONDict | None:
    """The part of a reply_markup a Message carries: its inline keyboard, if it has buttons."""
    # Message.reply_markup only ever carries inline keyboards.
    if markup and "inline_keyboard" in markup and markup["inline_keyboard"]:
        return {"inline_keyboard": markup["inline_keyboard"]}
    return None
