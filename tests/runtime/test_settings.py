"""The runtime's settings and failpoints: parsed once, refused with a message that names the variable only."""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from schema.vocabulary import MAX_QUESTIONS, MAX_TIME_LIMIT_S, MIN_QUESTIONS, MIN_TIME_LIMIT_S
from trivia_actors.runtime import SettingsError, failpoints, load_settings

REPO = Path(__file__).resolve().parents[2]

SECRET = "s3cret-value-that-must-never-show-up-0123456789"


def test_defaults_load_from_an_empty_environment() -> None:
    settings = load_settings({})
    assert settings.environment == "development"
    assert settings.kafka_partitions == 6
    assert settings.failpoints == ()
    assert settings.telebot_session_shards == 8
    assert settings.telebot_store_writers == 2


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("KAFKA_PARTITIONS", "x", "KAFKA_PARTITIONS must be an integer"),
    ("QUESTION_TIME_LIMIT", "soon", "QUESTION_TIME_LIMIT must be a number"),
    ("KAFKA_PARTITIONS", "0", "KAFKA_PARTITIONS must be at least 1"),
    ("LOG_FORMAT", "xml", "LOG_FORMAT must be 'text' or 'json'"),
])
def test_a_malformed_setting_is_refused_with_its_name(name: str, raw: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected) as caught:
        load_settings({name: raw})
    assert raw not in str(caught.value).replace(name, "")


def test_a_short_jwt_secret_is_refused_without_showing_it() -> None:
    short = SECRET[:10]
    with pytest.raises(SettingsError) as caught:
        load_settings({"JWT_SECRET": short}).require_jwt_secret()
    assert "JWT_SECRET" in str(caught.value)
    assert short not in str(caught.value)
    assert short not in repr(load_settings({"JWT_SECRET": short}))


def test_secrets_stay_out_of_the_settings_repr() -> None:
    settings = load_settings({"JWT_SECRET": SECRET, "TELEGRAM_BOT_TOKEN": SECRET + "t"})
    assert settings.require_jwt_secret() == SECRET
    assert SECRET not in repr(settings)


def test_failpoints_are_parsed_only_in_the_test_environment() -> None:
    armed = load_settings({"TRIVIA_ENV": "test", "TRIVIA_FAILPOINTS": "bridge.mid_batch=0.5, persist.after_commit=1"})
    assert dict(armed.failpoints) == {"bridge.mid_batch": 0.5, "persist.after_commit": 1.0}
    with pytest.raises(SettingsError, match="only allowed with TRIVIA_ENV=test"):
        load_settings({"TRIVIA_ENV": "production", "TRIVIA_FAILPOINTS": "bridge.mid_batch=1"})


@pytest.mark.parametrize(("raw", "expected"), [
    ("nowhere=1", "unknown failpoint"),
    ("bridge.mid_batch", "name=probability"),
    ("bridge.mid_batch=2", "between 0 and 1"),
])
def test_a_bad_failpoint_list_is_refused(raw: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        load_settings({"TRIVIA_ENV": "test", "TRIVIA_FAILPOINTS": raw})


def test_an_unarmed_failpoint_is_passed_through() -> None:
    failpoints.arm(load_settings({"TRIVIA_ENV": "test", "TRIVIA_FAILPOINTS": "bridge.mid_batch=0"}))
    try:
        failpoints.hit("bridge.mid_batch")  # probability 0: never fires
        failpoints.hit("persist.after_commit")  # not armed at all
    finally:
        failpoints.arm(load_settings({}))


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("QUESTION_TIME_LIMIT", "600", "QUESTION_TIME_LIMIT must be between 5 and 300 seconds"),
    ("QUESTION_TIME_LIMIT", "4.5", "QUESTION_TIME_LIMIT must be between 5 and 300 seconds"),
    ("QUESTION_TIME_LIMIT", "nan", "QUESTION_TIME_LIMIT must be between 5 and 300 seconds"),
    ("DEFAULT_QUESTION_COUNT", "0", "DEFAULT_QUESTION_COUNT must be between 1 and 50"),
    ("DEFAULT_QUESTION_COUNT", "51", "DEFAULT_QUESTION_COUNT must be between 1 and 50"),
    ("TELEBOT_SESSION_SHARDS", "0", "TELEBOT_SESSION_SHARDS must be between 1 and 256"),
    ("TELEBOT_SESSION_SHARDS", "257", "TELEBOT_SESSION_SHARDS must be between 1 and 256"),
    ("TELEBOT_SESSION_SHARDS", "many", "TELEBOT_SESSION_SHARDS must be an integer"),
    ("TELEBOT_STORE_WRITERS", "0", "TELEBOT_STORE_WRITERS must be between 1 and 32"),
    ("TELEBOT_STORE_WRITERS", "33", "TELEBOT_STORE_WRITERS must be between 1 and 32"),
])
def test_a_setting_out_of_range_is_refused_with_its_name_and_range(name: str, raw: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected) as caught:
        load_settings({name: raw})
    assert not re.search(rf"(?<![\w.]){re.escape(raw)}(?![\w.])", str(caught.value)), "the value was shown"


def test_the_limits_are_the_apis_own() -> None:
    # The range the settings accept is the range the API accepts: both ends load, one step past them does not.
    for name, low, high in (("QUESTION_TIME_LIMIT", MIN_TIME_LIMIT_S, MAX_TIME_LIMIT_S),
                            ("DEFAULT_QUESTION_COUNT", MIN_QUESTIONS, MAX_QUESTIONS)):
        load_settings({name: str(low)})
        load_settings({name: str(high)})
        for outside in (low - 1, high + 1):
            with pytest.raises(SettingsError, match=name):
                load_settings({name: str(outside)})
    settings = load_settings({"TELEBOT_SESSION_SHARDS": "256", "TELEBOT_STORE_WRITERS": "32"})
    assert (settings.telebot_session_shards, settings.telebot_store_writers) == (256, 32)


def test_the_telebot_refuses_a_time_limit_the_api_would_refuse_at_once() -> None:
    scripts = configparser.ConfigParser()
    scripts.read(REPO / "setup.cfg")
    entry = dict(line.split(" = ") for line in scripts["options.entry_points"]["console_scripts"].strip().splitlines())
    module, function = entry["trivia-telebot"].split(":")
    # The entry point of this checkout (the installed script may belong to another one); nothing is listening
    # at the broker or database addresses, so a telebot that got past its settings would wait or fail later.
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRIVIA_ENV": "test", "QUESTION_TIME_LIMIT": "600",
           "JWT_SECRET": SECRET, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
           "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "DB_INIT_TIMEOUT": "30"}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", f"from {module} import {function}; raise SystemExit({function}())"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.monotonic() - started
    assert result.returncode != 0, result.stderr
    assert "configuration error" in result.stderr, result.stderr
    assert "QUESTION_TIME_LIMIT" in result.stderr and "between 5 and 300" in result.stderr, result.stderr
    assert SECRET not in result.stderr + result.stdout
    assert elapsed < 20, f"the telebot took {elapsed:.1f}s to refuse its settings"
