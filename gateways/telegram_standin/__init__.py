"""A local stand-in for the Telegram Bot API that python-telegram-bot 22.8 talks to unmodified.

Point PTB at it with ``ApplicationBuilder().token(T).base_url(f"{url}/bot").base_file_url(f"{url}/file/bot")``
and act as users through the user-side API (or :class:`StandinClient`, or the terminal chat
``python -m gateways.telegram_standin.chat``). Run it with
``python -m gateways.telegram_standin --host 127.0.0.1 --port 8081 [--flood-limits]``.

Bot side: ``/bot{token}/{method}`` (GET/POST; JSON, form or multipart body, or query string; method names are
case-insensitive). Any non-empty token is accepted unless the server was created with ``bot_token`` (then
others get 401). Answers use Telegram's envelope ``{"ok": true, "result": ...}`` /
``{"ok": false, "error_code": N, "description": "...", "parameters": {"retry_after": S}}``, dates in seconds.
Methods: getMe, logOut, close, getUpdates (offset/limit/timeout/allowed_updates; real long polling; a newer
call ends an older one with 409), setWebhook/deleteWebhook/getWebhookInfo (while set, updates are POSTed to it
in order with ``X-Telegram-Bot-Api-Secret-Token``, retried after failures, and getUpdates answers 409),
sendMessage, editMessageText, editMessageReplyMarkup, deleteMessage, answerCallbackQuery, sendPoll, stopPoll,
setMyCommands/getMyCommands/deleteMyCommands, getChat, getChatMember, getChatAdministrators,
getChatMemberCount, sendChatAction, pinChatMessage/unpinChatMessage/unpinAllChatMessages and no-op
setMyName/setMyDescription/setMyShortDescription/setChatMenuButton. Others: 404 "Not Found: method not found".
HTML parse mode is parsed as Telegram does (plain text + entities, 400 "can't parse entities" on bad markup);
the raw text is kept for the user side. The bot may only write to a private chat after its user wrote first
(403 otherwise, like Telegram).

User side, JSON under ``/_standin/`` (errors are ``{"ok": false, "error_code": 400, "description": ...}``):

* ``POST /_standin/users`` {user_id?, first_name, last_name?, username?, language_code?} -> User (+ private
  chat with id == user id; an existing id is renamed)
* ``POST /_standin/groups`` {title, member_ids, admin_ids, type?: "group"|"supergroup", bot_is_admin?}
  -> chat {id (negative), type, title, member_ids, admin_ids, creator_id}; the bot gets my_chat_member
* ``POST /_standin/send`` {user_id, chat_id?, text, reply_to_message_id?} -> the message update
  ("/play science 5" and "/start@bot payload" get bot_command entities)
* ``POST /_standin/click`` {user_id, chat_id, message_id, data} -> the callback_query update (400 unless that
  message has a button with that callback_data)
* ``POST /_standin/poll_answer`` {user_id, poll_id, option_ids} -> the poll_answer update (the poll update for
  anonymous polls); the bot also gets a poll update with the new counts; 400 for closed/unknown polls
* ``GET /_standin/messages?chat_id=&after_seq=&wait=`` -> {"items": [...], "last_seq": N}: the bot's messages,
  edits, deletes, polls and callback answers in the chat, each {seq, kind: "message"|"edit"|"delete"|"poll"|
  "callback_answer", chat_id, message_id, text (raw), plain, parse_mode, buttons [[{text, callback_data}]]
  (also under reply_markup), poll_id, poll {id, question, options, voter_counts, type, correct_option_ids,
  is_closed, ...}, date, edit_date, ...}; a poll closing (stopPoll or open_period) is an "edit" of its
  message; callback answers carry text/show_alert/user_id; long-polls up to ``wait`` seconds
* ``GET /_standin/chats/{chat_id}/view`` -> {chat, messages: [latest state of every message, deleted flagged]}
* ``GET /_standin/stats`` -> {sent, edits, deletes, rate_limited_429, limit_breaches, breaches, per_chat,
  methods, ...}
* ``POST /_standin/faults`` {status: 429|500, count, retry_after?, fraction?, methods?} (storm mode)
* ``POST /_standin/limits`` {FloodLimits fields} -- change flood limits at run time
* ``POST /_standin/reset`` -- clear the world (ids keep counting; webhook and commands stay)
* ``GET /_standin/health``

Flood limits are described in :mod:`gateways.telegram_standin.limits`.
"""

from gateways.telegram_standin.client import StandinClient, StandinError
from gateways.telegram_standin.entities import MAX_TEXT_LENGTH, render_text, utf16_len
from gateways.telegram_standin.errors import ApiError
from gateways.telegram_standin.limits import FaultPlan, FloodLimits
from gateways.telegram_standin.server import StandinServer, StandinService, create_app
from gateways.telegram_standin.world import World

__all__ = [
    "MAX_TEXT_LENGTH",
    "ApiError",
    "FaultPlan",
    "FloodLimits",
    "StandinClient",
    "StandinError",
    "StandinServer",
    "StandinService",
    "World",
    "create_app",
    "render_text",
    "utf16_len",
]
