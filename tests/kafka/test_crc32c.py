"""kafka-python checksums every record batch with CRC32C: the `crc32c` package must be what it uses, since its
own fallback is pure Python (hundreds of times slower, ~70 us per batch)."""

from __future__ import annotations

import configparser
from pathlib import Path

import crc32c
from kafka.record import util
from kafka.record._crc32c import crc as pure_python_crc32c

ROOT = Path(__file__).resolve().parents[2]


def test_kafka_python_checksums_batches_with_the_native_crc32c() -> None:
    # calc_crc32c binds the implementation as a default argument when kafka.record.util is imported.
    assert util.calc_crc32c.__defaults__ == (crc32c.crc32c,), (
        f"kafka-python uses {util.calc_crc32c.__defaults__!r}, not the crc32c package"
    )
    batch = memoryview(bytes(range(256)) * 8)
    assert util.calc_crc32c(batch) == pure_python_crc32c(batch), "native and pure-Python checksums differ"


def test_crc32c_is_a_runtime_dependency() -> None:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    requirements = [line.strip() for line in setup["options"]["install_requires"].splitlines() if line.strip()]
    assert any(r.startswith("crc32c") for r in requirements), f"crc32c missing from install_requires: {requirements}"
