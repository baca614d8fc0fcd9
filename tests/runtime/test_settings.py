"""The runtime's settings and failpoints: parsed once, refused with a message that names the variable only."""

from __future__ import annotations

import pytest

from trivia_actors.runtime import SettingsError, failpoints, load_settings

SECRET = "s3cret-value-that-must-never-show-up-0123456789"


def test_defaults_load_from_an_empty_environment() -> None:
    settings = load_settings({})
    assert settings.environment == "development"
    assert settings.kafka_partitions == 6
    assert settings.failpoints == ()


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
