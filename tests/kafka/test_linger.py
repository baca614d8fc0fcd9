"""Every producer made by the clients module batches for ``KAFKA_LINGER_MS`` (default 5 ms)."""

from __future__ import annotations

import attrs
import pytest

from trivia_actors.kafka import make_producer
from trivia_actors.runtime import SettingsError, load_settings


def test_the_linger_setting_defaults_to_5_ms_and_is_read_from_the_environment() -> None:
    assert load_settings({}).kafka_linger_ms == 5
    assert load_settings({"KAFKA_LINGER_MS": "0"}).kafka_linger_ms == 0
    with pytest.raises(SettingsError, match="KAFKA_LINGER_MS must be between 0 and 1000"):
        load_settings({"KAFKA_LINGER_MS": "-1"})


def test_producers_linger_as_configured(settings) -> None:
    producer = make_producer(attrs.evolve(settings, kafka_linger_ms=7))
    try:
        assert producer.config["linger_ms"] == 7
    finally:
        producer.close(timeout=2)
    producer = make_producer(settings)
    try:
        assert producer.config["linger_ms"] == settings.kafka_linger_ms == 5
    finally:
        producer.close(timeout=2)
