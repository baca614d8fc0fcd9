"""The message catalog: every text the bot shows, per language, HTML-escaped at render time.

Add a language by adding a dictionary with the same keys; nothing else changes.
"""

from __future__ import annotations

import html
from typing import Any

TELEGRAM_TEXT_LIMIT = 4096

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        "welcome": (
            "👋 <b>Welcome to Trivia!</b>\n"
            "Play a quick quiz right here.\n\n"
            "/play — start a game (e.g. <code>/play science 5</code>)\n"
            "/categories — list the categories\n/stop — end the current game\n/help — this help"
        ),
        "help": (
            "<b>How to play</b>\n"
            "/play [category] [number of questions] — start a game\n"
            "Tap an answer button; faster correct answers score more, streaks add a bonus.\n"
            "/stop — end the current game\n/categories — list the categories"
        ),
        "categories": "<b>Categories</b>\n{lines}",
        "preparing": "🎲 Preparing your game{category}…",
        "already_playing": "A game is already running here. Answer the question above, or /stop it.",
        "no_game": "No game is running. Start one with /play.",
        "question": "❓ <b>Question {no}/{total}</b> · {category} · {difficulty}\n\n{text}",
        "correct": "✅ <b>Correct!</b> +{points} points{streak}\nTotal: {score}",
        "incorrect": "❌ <b>Wrong.</b> The answer is <b>{answer}</b>.\nTotal: {score}",
        "late": "⌛ <b>Too late.</b> The answer is <b>{answer}</b>.\nTotal: {score}",
        "timeout": "⌛ <b>Time's up!</b> The answer is <b>{answer}</b>.\nTotal: {score}",
        "close": "🤏 <b>Close!</b> Try again.",
        "explanation": "\n💡 {explanation}",
        "judged_by_ai": "\n🤖 Judged by AI: {reason}",
        "your_answer": "\nYour answer: {given}",
        "summary": (
            "🏁 <b>Game over!</b>\nScore: <b>{score}</b>\nCorrect: {correct}/{total}\nBest streak: {streak}\n\n"
            "Play again with /play"
        ),
        "stopped": "🛑 Game stopped.",
        "hint": "💡 Hint: <code>{hint}</code>",
        "time_left": "\n\n⏱ {seconds} s to answer — tap an option or type it.",
        "time_left_text": "\n\n⏱ {seconds} s — type your answer.",
        "time_left_group": "\n\n⏱ {seconds} s — everyone can answer; the first correct answer wins.",
        "close_named": "🤏 {name}: close! Try again.",
        "group_winner": "🏆 <b>{name}</b> got it: <b>{answer}</b> (+{points})",
        "group_nobody": "⌛ Nobody got it. The answer is <b>{answer}</b>.",
        "group_summary": "🏁 <b>Game over!</b>\n\n{board}\n\nPlay again with /play",
        "scoreboard_title": "📊 <b>Scores</b>",
        "score": "📊 Your score: <b>{score}</b> (question {no} of {total})",
        "stop_refused": "Only the player who started the game or a chat admin can do that.",
        "idle_stop": "💤 Nobody is answering, so I stopped the game.",
        "leaderboard_title": "🏆 <b>Leaderboard</b> · {where} · {period} · page {page}",
        "leaderboard_line": "{rank}. {name} — {points}",
        "leaderboard_empty": "Nobody has scored yet. Be the first: /play",
        "stats": (
            "📈 <b>{name}</b>\nGames: {games}\nAnswers: {answers} ({accuracy}% correct)\nBest streak: {streak}\n"
            "Average answer time: {speed}\nPoints: {points}"
        ),
        "stats_none": "No games yet. Start one with /play",
        "reads_failed": "😕 {reason}",
        "settings": "⚙️ <b>Settings of this chat</b>\n<pre>{lines}</pre>\nChange: <code>/settings timer 20</code>",
        "settings_saved": "✅ Saved.\n<pre>{lines}</pre>",
        "settings_invalid": "😕 {reason}",
        "settings_usage": "Usage: <code>/settings NAME VALUE</code>, e.g. <code>/settings mode all</code>",
        "settings_admins_only": "Only chat admins can change the settings.",
        "start_failed": "😕 Could not start a game: {reason}",
        "start_busy": "😕 Could not start a game: the game service is busy right now. Please send /play again in a "
                      "minute.",
        "unavailable": "😕 The game service is busy right now. Please try again in a minute.",
        "answer_failed": "😕 That answer was not accepted: {reason}",
        "unknown_category": "Unknown category <b>{category}</b>. See /categories.",
    }
}


def render(key: str, language: str = "en", **values: Any) -> str:
    """The text for ``key`` in ``language`` (English fallback), values HTML-escaped, within Telegram's limit.

    Telegram counts a message's length after parsing its HTML, so the values are shortened (the longest
    first, ending in "…") before they are escaped: the cut never splits an entity or a tag.
    """
    table = CATALOG.get(language) or CATALOG["en"]
    template = table.get(key) or CATALOG["en"][key]
    plain = {name: str(value) for name, value in values.items()}
    room = TELEGRAM_TEXT_LIMIT - _units(template.format(**dict.fromkeys(plain, "")))
    fitted = _fit(plain, max(room, 0))
    return template.format(**{name: html.escape(value, quote=False) for name, value in fitted.items()})


def _fit(values: dict[str, str], room: int) -> dict[str, str]:
    """``values`` with the longest shortened (ending in "…") until all together fit in ``room`` characters
    (counted as Telegram counts them, in UTF-16 code units)."""
    fitted = dict(values)
    excess = sum(map(_units, fitted.values())) - room
    while excess > 0 and fitted:
        name = max(fitted, key=lambda n: len(fitted[n]))
        value = fitted[name]
        if not value:
            break
        keep = max(len(value) - excess - 1, 0)
        fitted[name] = value[:keep] + "…"
        excess = sum(map(_units, fitted.values())) - room
    return fitted


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def raw(key: str, language: str = "en", **values: Any) -> str:
    """Like :func:`render` for values that are already safe HTML (composed from rendered parts)."""
    table = CATALOG.get(language) or CATALOG["en"]
    return (table.get(key) or CATALOG["en"][key]).format(**values)
