"""Transcripts to a Git repository over HTTPS (GitPython), one commit per batch.

The token never touches the remote URL, ``.git/config``, argv or a log line: each git command gets it in
its environment (``TRIVIA_GIT_TOKEN``) and reads it through a credential helper that is itself configured
by environment only (``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``), after an empty
``credential.helper`` entry that switches off any helper of the user's or system config (a "store" helper
would otherwise save the token to disk). ``GIT_TERMINAL_PROMPT=0`` makes a refused token fail at once,
and every git error is re-raised with the token scrubbed from its text.

Each batch starts from the remote branch's tip (fetch, hard reset), writes
``sessions/YYYY/MM/DD/<game_id>.json`` and ``.md``, commits only if something changed (so exporting a game
again commits nothing) and pushes; a push rejected because the remote moved is followed by a fetch, a
rebase and another push, a bounded number of times.
"""

from __future__ import annotations

import logging
import shlex
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import git

from trivia_actors.exports import Transcript, scrub_text

logger = logging.getLogger(__name__)

TOKEN_ENV = "TRIVIA_GIT_TOKEN"  # noqa: S105 - the name of the variable, not a secret
DEFAULT_AUTHOR = ("Trivia Bot", "trivia-bot@localhost")
_REJECTED_MARKERS = (
    "[rejected]",
    "fetch first",
    "non-fast-forward",
    "failed to update ref",
    "cannot lock ref",
    "incorrect old value",
    "stale info",
)


class GitExportError(RuntimeError):
    """A git command failed; its message and ``stderr`` are free of the token."""

    def __init__(self, message: str, *, stderr: str = "", rejected: bool = False) -> None:
        super().__init__(message)
        self.stderr = stderr
        self.rejected = rejected


def _credential_helper(username: str) -> str:
    # Run by git through the shell as "<value> get|store|erase"; only "get" answers. The token is read
    # from the environment of the git process at that moment, so it is never written anywhere.
    return (
        "!f() { test \"$1\" = get || exit 0; "
        f"echo {shlex.quote('username=' + username)}; "
        f'echo "password=${{{TOKEN_ENV}}}"; '
        "}; f"
    )


def _unwrap(stderr: str) -> str:
    """GitPython's ``stderr: '...'`` wrapping removed."""
    text = stderr.strip()
    if text.startswith("stderr: '") and text.endswith("'"):
        text = text[len("stderr: '"):-1]
    return text


def check_remote_url(url: str) -> str:
    """``url`` if it carries no password (the token goes through ``GIT_TOKEN``), else ``ValueError``."""
    parts = urlsplit(url)
    if parts.password is not None:
        raise ValueError("GIT_REMOTE_URL must not contain credentials: put the token in GIT_TOKEN")
    if parts.scheme not in {"https", "http", "file", ""}:
        raise ValueError(f"GIT_REMOTE_URL scheme {parts.scheme!r} is not supported: use https://")
    return url


class GitTranscriptExporter:
    """Commits batches of transcripts to ``branch`` of ``remote_url`` from a working clone in ``work_dir``."""

    def __init__(
        self,
        *,
        remote_url: str,
        work_dir: Path | str,
        token: str | None = None,
        branch: str = "main",
        ssl_ca_info: str | None = None,
        push_attempts: int = 4,
        command_timeout_s: float = 120.0,
        low_speed_time_s: int = 30,
        author: tuple[str, str] = DEFAULT_AUTHOR,
    ) -> None:
        self.remote_url = check_remote_url(remote_url)
        self.work_dir = Path(work_dir)
        self.branch = branch
        self.push_attempts = max(1, push_attempts)
        self.command_timeout_s = command_timeout_s
        self._token = token
        self._lock = threading.Lock()
        self._repo: git.Repo | None = None
        self._env = self._environment(ssl_ca_info, low_speed_time_s, author)

    def _environment(self, ssl_ca_info: str | None, low_speed_time_s: int,
                     author: tuple[str, str]) -> dict[str, str]:
        username = urlsplit(self.remote_url).username or "x-access-token"
        config: list[tuple[str, str]] = [
            ("credential.helper", ""),  # forget helpers from other config files (e.g. "store")
            ("commit.gpgsign", "false"),
            ("core.hooksPath", "/dev/null"),
            ("http.lowSpeedLimit", "1"),
            ("http.lowSpeedTime", str(low_speed_time_s)),
            ("gc.auto", "0"),
        ]
        if self._token:
            config.append(("credential.helper", _credential_helper(username)))
        if ssl_ca_info:
            config.append(("http.sslCAInfo", ssl_ca_info))
        env = {
            "GIT_TERMINAL_PROMPT": "0",
            # An inherited askpass program (an IDE's, ssh's) could prompt or leak: none.
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": author[0],
            "GIT_COMMITTER_EMAIL": author[1],
            "GIT_CONFIG_COUNT": str(len(config)),
            TOKEN_ENV: self._token or "",
        }
        if ssl_ca_info:
            # An inherited GIT_SSL_CAINFO would win over http.sslCAInfo: set both.
            env["GIT_SSL_CAINFO"] = ssl_ca_info
        for index, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        return env

    # --- git plumbing --------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return scrub_text(text, [self._token])

    def _git(self, *args: str, **kwargs: Any) -> str:
        """Run ``git <args>`` in the work dir; failures re-raised as a scrubbed :class:`GitExportError`."""
        repo = self._open()
        try:
            output: str = repo.git.execute(
                ["git", *args], kill_after_timeout=self.command_timeout_s, with_extended_output=False, **kwargs
            )
            return output
        except git.GitCommandError as exc:
            stderr = self._scrub(_unwrap(str(exc.stderr or "")))
            text = f"{exc.stdout or ''}\n{exc.stderr or ''}"
            rejected = any(marker in text for marker in _REJECTED_MARKERS)
            status = exc.status
            raise GitExportError(
                self._scrub(f"git {args[0]} failed (exit {status}): {' '.join(stderr.split())}"),
                stderr=stderr,
                rejected=rejected,
            ) from None

    def _open(self) -> git.Repo:
        if self._repo is not None:
            return self._repo
        if (self.work_dir / ".git").is_dir():
            try:
                repo = git.Repo(self.work_dir)
            except git.InvalidGitRepositoryError:
                raise GitExportError(
                    f"{self.work_dir} is not a usable git clone: remove it and the next export clones again"
                ) from None
        else:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            repo = git.Repo.init(self.work_dir)
            logger.info("git export: initialised a working clone in %s", self.work_dir)
        repo.git.update_environment(**self._env)
        self._repo = repo
        self._ensure_remote()
        return repo

    def _ensure_remote(self) -> None:
        assert self._repo is not None
        names = [remote.name for remote in self._repo.remotes]
        if "origin" not in names:
            self._git("remote", "add", "origin", self.remote_url)
        elif self._repo.remotes.origin.url != self.remote_url:
            self._git("remote", "set-url", "origin", self.remote_url)

    def _remote_ref(self) -> str:
        return f"refs/remotes/origin/{self.branch}"

    def _has_remote_branch(self) -> bool:
        try:
            self._git("rev-parse", "--verify", "--quiet", self._remote_ref())
        except GitExportError:
            return False
        return True

    def _sync(self) -> None:
        """Fetch and put the work tree exactly at the remote branch's tip (or an empty, unborn branch)."""
        self._git("fetch", "--prune", "--quiet", "origin")
        if self._has_remote_branch():
            self._git("checkout", "--quiet", "--force", "-B", self.branch, self._remote_ref())
        else:
            # A new, empty repository: start the branch from nothing.
            self._git("symbolic-ref", "HEAD", f"refs/heads/{self.branch}")
            try:
                self._git("update-ref", "-d", f"refs/heads/{self.branch}")
            except GitExportError as exc:
                logger.debug("git export: no local branch to reset: %s", exc)
            self._git("read-tree", "--empty")
        self._git("clean", "-fdq")

    # --- export --------------------------------------------------------------------------------------

    def paths(self, transcript: Transcript) -> tuple[str, str]:
        """The repository paths of a transcript's JSON and Markdown files."""
        base = f"sessions/{transcript.date_path}/{transcript.game_id}"
        return f"{base}.json", f"{base}.md"

    def _write(self, transcripts: Sequence[Transcript]) -> list[str]:
        """Write and stage the files; the ids of the games whose files changed."""
        staged: dict[str, str] = {}
        for transcript in transcripts:
            json_path, md_path = self.paths(transcript)
            for relative, content in ((json_path, transcript.json_bytes),
                                      (md_path, transcript.markdown.encode("utf-8"))):
                target = self.work_dir / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
                staged[relative] = transcript.game_id
        self._git("add", "--", *staged)
        changed = self._git("status", "--porcelain", "-z", "--untracked-files=no", "--", *staged)
        changed_paths = {entry[3:] for entry in changed.split("\0") if len(entry) > 3}
        return sorted({game_id for path, game_id in staged.items() if path in changed_paths})

    def _commit(self, game_ids: Sequence[str]) -> None:
        count = len(game_ids)
        subject = f"Add {count} session transcript{'s' if count != 1 else ''}"
        body = "\n".join(f"- {game_id}" for game_id in game_ids)
        self._git("commit", "--quiet", "--no-verify", "-m", subject, "-m", f"Games:\n{body}")

    def _stage_and_commit(self, transcripts: Sequence[Transcript]) -> list[str]:
        changed = self._write(transcripts)
        if changed:
            self._commit(changed)
        return changed

    def _push(self) -> None:
        self._git("push", "--porcelain", "origin", f"HEAD:refs/heads/{self.branch}")

    def _rebase_onto_remote(self, transcripts: Sequence[Transcript]) -> bool:
        """After a rejected push: replay our commit on the new remote tip; False if nothing is left to push."""
        self._git("fetch", "--prune", "--quiet", "origin")
        try:
            self._git("rebase", "--quiet", self._remote_ref())
        except GitExportError as exc:
            logger.warning("git export: rebase failed, rewriting the batch on the remote tip: %s", exc)
            try:
                self._git("rebase", "--abort")
            except GitExportError as abort_exc:
                logger.debug("git export: no rebase to abort: %s", abort_exc)
            self._sync()
            return bool(self._stage_and_commit(transcripts))
        ahead = self._git("rev-list", "--count", f"{self._remote_ref()}..HEAD").strip()
        return ahead not in {"", "0"}

    def export(self, transcripts: Sequence[Transcript]) -> None:
        """Commit the batch's files (if any changed) in one commit and push it."""
        if not transcripts:
            return
        with self._lock:
            self._sync()
            changed = self._stage_and_commit(transcripts)
            if not changed:
                logger.info("git export: %d transcripts already in %s, nothing to commit", len(transcripts),
                            self.branch)
                return
            for attempt in range(1, self.push_attempts + 1):
                try:
                    self._push()
                    logger.info("git export: pushed %d transcripts to %s", len(changed), self.branch)
                    return
                except GitExportError as exc:
                    if not exc.rejected or attempt == self.push_attempts:
                        raise
                    logger.info("git export: push rejected (the remote moved), rebasing (attempt %d/%d)",
                                attempt, self.push_attempts)
                if not self._rebase_onto_remote(transcripts):
                    logger.info("git export: the remote already has these transcripts")
                    return

    def close(self) -> None:
        """Release GitPython's cached processes and file handles."""
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    @property
    def environment(self) -> Mapping[str, str]:
        """The environment git runs with, the token masked (for diagnostics)."""
        return {k: ("***" if k == TOKEN_ENV and v else v) for k, v in self._env.items()}
