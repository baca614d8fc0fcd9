"""The parts the fault suite relies on: failpoints are armed only where allowed, each worker gets its own
Git clone, and the PostgreSQL proxy really cuts and restores the path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import psycopg2
import pytest

from gateways.exporters.work_dir import ExclusiveWorkDir
from tests.chaos.environment import _host_port, _with_port
from tests.chaos.tcp_proxy import TcpProxy
from trivia_actors.runtime import SettingsError, load_settings


def test_failpoints_parse_in_the_test_environment_only() -> None:
    settings = load_settings({"TRIVIA_ENV": "test",
                              "TRIVIA_FAILPOINTS": "persist.after_commit=0.5, bridge.mid_batch=1"})
    assert settings.failpoints == (("persist.after_commit", 0.5), ("bridge.mid_batch", 1.0))
    with pytest.raises(SettingsError, match="only allowed with TRIVIA_ENV=test"):
        load_settings({"TRIVIA_ENV": "production", "TRIVIA_FAILPOINTS": "persist.after_commit=0.5"})
    with pytest.raises(SettingsError, match="unknown failpoint"):
        load_settings({"TRIVIA_ENV": "test", "TRIVIA_FAILPOINTS": "nowhere=1"})
    with pytest.raises(SettingsError, match="between 0 and 1"):
        load_settings({"TRIVIA_ENV": "test", "TRIVIA_FAILPOINTS": "persist.after_commit=2"})
    assert load_settings({"TRIVIA_ENV": "test"}).failpoints == ()


def test_an_armed_failpoint_kills_its_process_with_sigkill() -> None:
    script = textwrap.dedent("""
        from trivia_actors.runtime import failpoints
        from trivia_actors.runtime.settings import load_settings
        failpoints.hit("persist.after_commit")  # not armed: a no-op
        print("alive", flush=True)
        failpoints.arm(load_settings({"TRIVIA_ENV": "test", "TRIVIA_FAILPOINTS": "persist.after_commit=1"}))
        failpoints.hit("publish.after_send")  # armed elsewhere only
        print("still alive", flush=True)
        failpoints.hit("persist.after_commit")
        print("unreachable", flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == -9
    assert done.stdout.split() == ["alive", "still", "alive"]


def test_each_holder_gets_its_own_clone_directory_until_it_releases_it(tmp_path) -> None:
    first, second = ExclusiveWorkDir(tmp_path / "clone"), ExclusiveWorkDir(tmp_path / "clone")
    assert first.acquire() == tmp_path / "clone"
    assert second.acquire() == tmp_path / "clone-2"
    first.release()
    third = ExclusiveWorkDir(tmp_path / "clone")
    assert third.acquire() == tmp_path / "clone"
    second.release()
    third.release()


def test_a_clone_locked_by_another_process_is_not_shared(tmp_path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from gateways.exporters.work_dir import ExclusiveWorkDir
        held = ExclusiveWorkDir({str(tmp_path / 'clone')!r})
        print(held.acquire(), flush=True)
        sys.stdin.read()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == str(tmp_path / "clone")
        assert ExclusiveWorkDir(tmp_path / "clone").acquire() == tmp_path / "clone-2"
    finally:
        holder.kill()
        holder.wait()
    assert ExclusiveWorkDir(tmp_path / "clone").acquire() == tmp_path / "clone", "a killed holder frees its clone"


def test_the_proxy_cuts_open_connections_refuses_new_ones_and_restores(pg_url: str) -> None:
    proxy = TcpProxy(_host_port(pg_url)).start()
    try:
        url = _with_port(pg_url, proxy.port)
        conn = psycopg2.connect(url, connect_timeout=5)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            (backend,) = cur.fetchone()
        proxy.cut()
        # The server side goes too, as in a crash: an open transaction must not linger and hold its locks.
        admin = psycopg2.connect(pg_url, connect_timeout=5)
        admin.autocommit = True
        deadline = time.monotonic() + 10
        with admin.cursor() as cur:
            while True:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (backend,))
                if cur.fetchone() == (0,):
                    break
                assert time.monotonic() < deadline, "the proxied server connection outlived the cut"
                time.sleep(0.1)
        admin.close()
        with pytest.raises(psycopg2.OperationalError), conn.cursor() as cur:
            cur.execute("SELECT 1")
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(url, connect_timeout=2)
        proxy.restore()
        again = psycopg2.connect(url, connect_timeout=5)
        with again.cursor() as cur:
            cur.execute("SELECT 2")
            assert cur.fetchone() == (2,)
        again.close()
    finally:
        proxy.stop()
