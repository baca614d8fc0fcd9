"""The Git exporter against a real smart-HTTP(S) server: paths, batching, rebase on a moved remote, tokens."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateways.exporters.git_exporter import GitExportError, GitTranscriptExporter
from tests.exports.certs import make_self_signed, server_context
from tests.exports.documents import sample_transcript
from tests.exports.git_server import GitServer


def _exporter(server: GitServer, token: str, work_dir: Path, **kwargs) -> GitTranscriptExporter:
    return GitTranscriptExporter(remote_url=server.url, token=token, work_dir=work_dir, **kwargs)


def _all_bytes_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_one_transcript_lands_at_its_dated_path(git_server, git_token, tmp_path):
    exporter = _exporter(git_server, git_token, tmp_path / "work")
    transcript = sample_transcript("game-1", finished_at="2024-02-29T23:59:59.000Z")
    exporter.export([transcript])
    assert git_server.file_names() == ["sessions/2024/02/29/game-1.json", "sessions/2024/02/29/game-1.md"]
    assert git_server.show("sessions/2024/02/29/game-1.json") == transcript.json_bytes
    assert git_server.show("sessions/2024/02/29/game-1.md").decode() == transcript.markdown
    assert git_server.commit_count() == 1
    assert git_server.log("-1", "--format=%s").strip() == "Add 1 session transcript"
    assert git_server.log("-1", "--format=%an <%ae>").strip() == "Trivia Bot <trivia-bot@localhost>"
    exporter.close()


def test_a_batch_is_one_commit_naming_its_games(git_server, git_token, tmp_path):
    exporter = _exporter(git_server, git_token, tmp_path / "work")
    batch = [sample_transcript(f"game-{i}", finished_at=f"2024-05-0{i}T10:00:00.000Z") for i in (1, 2, 3)]
    exporter.export(batch)
    assert git_server.commit_count() == 1
    message = git_server.log("-1", "--format=%B")
    assert message.splitlines()[0] == "Add 3 session transcripts"
    for i in (1, 2, 3):
        assert f"- game-{i}" in message
        assert f"sessions/2024/05/0{i}/game-{i}.json" in git_server.file_names()
    assert len(git_server.file_names()) == 6


def test_exporting_again_commits_nothing(git_server, git_token, tmp_path):
    exporter = _exporter(git_server, git_token, tmp_path / "work")
    batch = [sample_transcript("game-1"), sample_transcript("game-2")]
    exporter.export(batch)
    exporter.export(batch)
    exporter.export(batch[:1])
    assert git_server.commit_count() == 1
    # A fresh process (new exporter, same work dir) and a fresh clone elsewhere change nothing either.
    _exporter(git_server, git_token, tmp_path / "work").export(batch)
    _exporter(git_server, git_token, tmp_path / "other-work").export(batch)
    assert git_server.commit_count() == 1
    # A batch with one new game commits only that one.
    exporter.export([*batch, sample_transcript("game-3")])
    assert git_server.commit_count() == 2
    assert git_server.log("-1", "--format=%B").count("- game-") == 1


def test_a_remote_that_moved_is_rebased_onto(git_server, git_token, tmp_path):
    exporter = _exporter(git_server, git_token, tmp_path / "work")
    exporter.export([sample_transcript("game-1")])
    # Between the exporter's fetch and its push, another writer pushes a commit of its own.
    git_server.before_receive_pack = lambda: git_server.push_from_other_clone(tmp_path / "other")
    exporter.export([sample_transcript("game-2")])
    assert git_server.before_receive_pack is None, "the competing push did not happen"
    subjects = git_server.log("--format=%s").splitlines()
    assert subjects == ["Add 1 session transcript", "Add README.md", "Add 1 session transcript"]
    # Linear history: the exporter's commit sits on top of the other writer's.
    assert git_server.log("--merges", "--format=%H").strip() == ""
    assert {"README.md", "sessions/2024/05/01/game-1.json", "sessions/2024/05/01/game-2.json"} <= set(
        git_server.file_names()
    )


def test_a_remote_moving_on_every_push_gives_up_after_bounded_attempts(git_server, git_token, tmp_path):
    exporter = _exporter(git_server, git_token, tmp_path / "work", push_attempts=2)
    exporter.export([sample_transcript("game-1")])
    pushes = iter(range(10))

    def competing_push() -> None:
        git_server.push_from_other_clone(tmp_path / "other", filename=f"other-{next(pushes)}.txt")
        git_server.before_receive_pack = competing_push

    git_server.before_receive_pack = competing_push
    with pytest.raises(GitExportError) as failure:
        exporter.export([sample_transcript("game-2")])
    git_server.before_receive_pack = None
    assert failure.value.rejected
    assert "sessions/2024/05/01/game-2.json" not in git_server.file_names()
    # Once the remote holds still, the same batch goes through.
    exporter.export([sample_transcript("game-2")])
    assert "sessions/2024/05/01/game-2.json" in git_server.file_names()


@pytest.mark.timeout(60)
def test_a_wrong_token_fails_at_once_and_is_never_revealed(git_server, tmp_path, caplog):
    wrong = "wrong-token-5f1c9a7e3b"
    work = tmp_path / "work"
    exporter = _exporter(git_server, wrong, work)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GitExportError) as failure:
        exporter.export([sample_transcript("game-1")])
    error = failure.value
    assert "Authentication failed" in str(error)
    assert wrong not in str(error) and wrong not in error.stderr and wrong not in repr(error)
    assert error.__cause__ is None and wrong not in str(error.__context__ or "")
    for record in caplog.records:
        assert wrong not in record.getMessage()
        assert wrong not in str(record.exc_text or "")
    assert wrong not in caplog.text
    assert wrong.encode() not in (work / ".git" / "config").read_bytes()
    assert wrong.encode() not in _all_bytes_under(work / ".git")
    # No prompt, no retry loop: one refused attempt with credentials, and nothing was pushed.
    assert git_server.auth_failures == 1
    assert git_server.commit_count() == 0


def test_the_token_stays_out_of_the_clone_after_a_successful_push(git_server, git_token, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    work = tmp_path / "work"
    _exporter(git_server, git_token, work).export([sample_transcript("game-1")])
    assert git_token.encode() not in _all_bytes_under(work / ".git")
    assert git_token not in caplog.text
    assert git_server.url in (work / ".git" / "config").read_text()


def test_credentials_in_the_remote_url_are_refused(tmp_path):
    with pytest.raises(ValueError, match="must not contain credentials") as failure:
        GitTranscriptExporter(remote_url="https://bot:hunter2@example.invalid/repo.git", work_dir=tmp_path)
    assert "hunter2" not in str(failure.value)


def test_export_over_https_with_a_self_signed_certificate(tmp_path, git_token):
    cert, key = make_self_signed(tmp_path / "tls")
    with GitServer(tmp_path / "git-server", token=git_token, ssl_context=server_context(cert, key)) as server:
        assert server.url.startswith("https://")
        untrusting = _exporter(server, git_token, tmp_path / "untrusting")
        with pytest.raises(GitExportError, match="certificate"):
            untrusting.export([sample_transcript("game-1")])
        exporter = _exporter(server, git_token, tmp_path / "work", ssl_ca_info=str(cert))
        exporter.export([sample_transcript("game-1"), sample_transcript("game-2")])
        assert server.commit_count() == 1
        assert len(server.file_names()) == 4
        assert git_token.encode() not in _all_bytes_under(tmp_path / "work" / ".git")


def test_an_unreachable_server_raises_a_clear_error(tmp_path, git_token):
    server = GitServer(tmp_path / "git-server", token=git_token).start()
    server.stop()
    exporter = _exporter(server, git_token, tmp_path / "work")
    with pytest.raises(GitExportError, match="git fetch failed"):
        exporter.export([sample_transcript("game-1")])
