"""The live progress line on stderr: rewritten in place on a terminal, periodic plain lines otherwise."""

from __future__ import annotations

import threading
from typing import TextIO

from gateways.simulate.report import Recorder


def progress_line(snapshot: dict[str, object], *, headline: str) -> str:
    """One line: elapsed, games, answers and their recent rate, errors, p99 of the headline step so far."""
    p99 = snapshot["p99_ms"]
    p99_text = "-" if p99 is None else f"{p99:.1f} ms"
    return (f"[{snapshot['elapsed_s']:6.1f}s] games {snapshot['games_finished']}/{snapshot['games_started']} "
            f"answers {snapshot['answers']} ({snapshot['answers_per_s']:.1f}/s) errors {snapshot['errors']} "
            f"p99 {headline} {p99_text}")


class Progress:
    """Prints the recorder's progress until stopped; a context manager."""

    def __init__(self, recorder: Recorder, stream: TextIO, *, tty_interval_s: float = 0.5,
                 plain_interval_s: float = 10.0, enabled: bool = True) -> None:
        self.recorder = recorder
        self.stream = stream
        self.enabled = enabled
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval_s = tty_interval_s if self.tty else plain_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulate-progress", daemon=True)

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.enabled:
            return
        self._stop.set()
        self._thread.join(timeout=5)
        self._emit(final=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._emit(final=False)

    def _emit(self, *, final: bool) -> None:
        line = progress_line(self.recorder.progress(), headline=self.recorder.headline)
        if self.tty:
            self.stream.write("\r\x1b[K" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
