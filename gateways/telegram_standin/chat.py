"""Terminal chat: play with the bot through the stand-in as one Telegram user.

``python -m gateways.telegram_standin.chat --url http://127.0.0.1:8081 [--user-id N --name Alice]``
(``--chat-id G`` plays in a group chat instead of the private one).

The bot's messages are printed as they arrive (a background thread long-polls ``/_standin/messages``), inline
buttons numbered ``[1] [2] ...`` and poll options likewise. Type text or /commands to send them. A bare number
``N`` (or ``#N``) presses button N of the newest message that has buttons, or answers the newest open poll,
whichever came last (``#1,3`` for polls with several answers); with nothing to press, a number is sent as
text. Ctrl-D or Ctrl-C leaves.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
from typing import Any, TextIO

import requests

from gateways.telegram_standin.client import StandinClient, StandinError
from trivia_actors.runtime import SettingsError, load_settings

JSONDict = dict[str, Any]
_CHOICE_RE = re.compile(r"^#?\s*(\d+(?:\s*,\s*\d+)*)$")


class ChatSession:
    """Renders the bot's events and turns typed lines into user actions."""

    def __init__(self, client: StandinClient, user_id: int, chat_id: int, out: TextIO) -> None:
        self.client = client
        self.user_id = user_id
        self.chat_id = chat_id
        self.out = out
        self._lock = threading.Lock()
        # message_id -> (seq, buttons or poll): what a number may act on; the highest seq wins.
        self._targets: dict[int, tuple[int, JSONDict]] = {}

    def say(self, text: str) -> None:
        """Print a block of output without interleaving with the other thread."""
        with self._lock:
            print(text, file=self.out, flush=True)

    # -- output ----------------------------------------------------------------------------------------------

    @staticmethod
    def _plain(item: JSONDict) -> str:
        # "plain" is the text as Telegram shows it (HTML tags rendered away); "text" is what the bot sent.
        return str(item.get("plain") or item.get("text") or "")

    @staticmethod
    def _buttons_block(buttons: list[list[JSONDict]]) -> str:
        lines, number = [], 0
        for row in buttons:
            cells = []
            for button in row:
                number += 1
                cells.append(f"[{number}] {button.get('text', '')}")
            lines.append("   " + "   ".join(cells))
        return "\n".join(lines)

    @staticmethod
    def _poll_block(poll: JSONDict) -> str:
        kind = "quiz" if poll.get("type") == "quiz" else "poll"
        head = f"[{kind}] {poll.get('question', '')}"
        if poll.get("is_closed"):
            head += "  (closed)"
        elif poll.get("open_period"):
            head += f"  ({poll['open_period']}s to answer)"
        lines = [head]
        counts = poll.get("voter_counts") or []
        correct = set(poll.get("correct_option_ids") or [])
        for index, option in enumerate(poll.get("options") or []):
            line = f"   [{index + 1}] {option}"
            if poll.get("is_closed"):
                votes = counts[index] if index < len(counts) else 0
                mark = "  (correct)" if index in correct else ""
                line += f"  - {votes} vote{'s' if votes != 1 else ''}{mark}"
            lines.append(line)
        if not poll.get("is_closed"):
            lines.append("   answer with #N")
        return "\n".join(lines)

    def render(self, item: JSONDict) -> str:
        """The text shown for one event-log item."""
        kind = item.get("kind")
        if kind == "delete":
            return "(the bot deleted a message)"
        if kind == "callback_answer":
            text = item.get("text") or ""
            if not text:
                return ""
            return f"bot (alert): {text}" if item.get("show_alert") else f"bot (notice): {text}"
        prefix = "bot (edited): " if kind == "edit" else "bot: "
        poll = item.get("poll")
        if poll:
            return prefix + self._poll_block(poll)
        body = prefix + self._plain(item).replace("\n", "\n     ")
        buttons = item.get("buttons") or []
        return body + ("\n" + self._buttons_block(buttons) if buttons else "")

    def handle(self, item: JSONDict) -> None:
        """Show one event and remember what it makes clickable."""
        message_id = item.get("message_id")
        if isinstance(message_id, int):
            with self._lock:
                poll = item.get("poll")
                if item.get("kind") == "delete":
                    self._targets.pop(message_id, None)
                elif poll and not poll.get("is_closed"):
                    self._targets[message_id] = (int(item["seq"]), {"poll": poll})
                elif item.get("kind") in ("message", "edit", "poll"):
                    if item.get("buttons") and not poll:
                        self._targets[message_id] = (int(item["seq"]), {"buttons": item["buttons"]})
                    else:
                        self._targets.pop(message_id, None)
        text = self.render(item)
        if text:
            self.say(text)

    # -- input -----------------------------------------------------------------------------------------------

    def _latest_target(self) -> tuple[int, JSONDict] | None:
        with self._lock:
            if not self._targets:
                return None
            message_id = max(self._targets, key=lambda key: self._targets[key][0])
            return message_id, self._targets[message_id][1]

    def on_line(self, line: str) -> None:
        """Act on one typed line."""
        text = line.strip()
        if not text:
            return
        try:
            match = _CHOICE_RE.match(text)
            target = self._latest_target() if match else None
            if match and target is not None:
                numbers = [int(n) for n in re.split(r"\s*,\s*", match.group(1))]
                self._choose(target[0], target[1], numbers)
            else:
                self.client.send_text(self.user_id, text, chat_id=self.chat_id)
        except StandinError as exc:
            self.say(f"(refused: {exc.description})")

    def _choose(self, message_id: int, target: JSONDict, numbers: list[int]) -> None:
        poll = target.get("poll")
        if poll is not None:
            options = poll.get("options") or []
            if any(not 1 <= n <= len(options) for n in numbers):
                self.say(f"(the poll has options 1..{len(options)})")
                return
            self.client.answer_poll(self.user_id, str(poll["id"]), [n - 1 for n in numbers])
            chosen = ", ".join(str(options[n - 1]) for n in numbers)
            self.say(f"(you answered: {chosen})")
            with self._lock:
                self._targets.pop(message_id, None)
            return
        buttons = [button for row in target.get("buttons") or [] for button in row]
        if len(numbers) != 1 or not 1 <= numbers[0] <= len(buttons):
            self.say(f"(the latest message has buttons 1..{len(buttons)})")
            return
        button = buttons[numbers[0] - 1]
        if button.get("callback_data") is None:
            self.say(f"(that button opens {button.get('url') or 'something the stand-in cannot press'})")
            return
        self.client.click(self.user_id, self.chat_id, message_id, str(button["callback_data"]))
        self.say(f"(you pressed: {button.get('text', '')})")


def _poll_events(session: ChatSession, client: StandinClient, after_seq: int, stop: threading.Event) -> None:
    cursor, failing = after_seq, False
    while not stop.is_set():
        try:
            items = client.messages(session.chat_id, after_seq=cursor, wait=2.0)
        except (requests.RequestException, StandinError) as exc:
            if not failing:
                session.say(f"(lost the stand-in: {type(exc).__name__}; retrying)")
            failing = True
            stop.wait(1.0)
            continue
        if failing:
            session.say("(connected again)")
            failing = False
        for item in items:
            cursor = max(cursor, int(item["seq"]))
            session.handle(item)


def main(argv: list[str] | None = None) -> int:
    """Run the terminal chat until Ctrl-D or Ctrl-C."""
    try:
        return _run(argv)
    except KeyboardInterrupt:  # Ctrl-C before the chat loop started
        return 0


def _run(argv: list[str] | None) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"chat: configuration error: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m gateways.telegram_standin.chat",
                                     description="Chat with the bot through the Telegram stand-in.")
    parser.add_argument("--url", default=settings.standin_url)
    parser.add_argument("--user-id", type=int, default=None, help="reuse or create this user id")
    parser.add_argument("--name", default="Alice", help="first name of the user")
    parser.add_argument("--username", default=None)
    parser.add_argument("--chat-id", type=int, default=None,
                        help="a group chat id (default: the private chat)")
    args = parser.parse_args(argv)
    client = StandinClient(args.url)
    poller = StandinClient(args.url)  # its own session: requests sessions are not shared across threads
    try:
        user = client.create_user(args.name, user_id=args.user_id, username=args.username)
        chat_id = int(args.chat_id if args.chat_id is not None else user["id"])
        start_seq = int(client.view(chat_id)["last_seq"])
    except (requests.RequestException, StandinError) as exc:
        print(f"cannot use the stand-in at {args.url}: {exc}", file=sys.stderr)
        return 1
    session = ChatSession(client, int(user["id"]), chat_id, sys.stdout)
    where = "your private chat with the bot" if chat_id == user["id"] else f"chat {chat_id}"
    session.say(f"You are {user['first_name']} (user {user['id']}) in {where}. Type /start to begin; "
                "a number presses a button or answers a poll; Ctrl-D leaves.")
    stop = threading.Event()
    thread = threading.Thread(target=_poll_events, args=(session, poller, start_seq, stop), daemon=True,
                              name="standin-chat-poller")
    thread.start()
    try:
        while True:
            line = sys.stdin.readline()
            if not line:
                break
            try:
                session.on_line(line)
            except requests.RequestException as exc:
                session.say(f"(could not reach the stand-in: {type(exc).__name__})")
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        # The poller's long poll ends within its wait; the thread is a daemon, so do not wait long for it.
        thread.join(timeout=0.2)
        client.close()
    session.say("bye")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
