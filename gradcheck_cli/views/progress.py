"""Progress on stderr for long checks: never for quick ones, so logs stay clean.

On a terminal a rich progress bar appears after ``delay`` seconds and disappears when
done.  Off a terminal (a CI log) plain lines appear only when a check runs long: after
``PLAIN_DELAY`` seconds, then every ``PLAIN_INTERVAL`` seconds, e.g.
``progress: checking parameters 1500/5000 (30%), 12 s``.  ``--progress`` shows them from
the start (every ``PLAIN_INTERVAL_FORCED`` seconds), ``--no-progress`` never.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console

from .table import make_console

#: off a terminal, the first plain progress line comes after this many seconds...
PLAIN_DELAY = 10.0
#: ...and the next ones every this many seconds
PLAIN_INTERVAL = 10.0
#: with --progress, a plain line at the first update and then every this many seconds
PLAIN_INTERVAL_FORCED = 2.0


class DelayedProgress:
    """A progress display on stderr for a long check, as a ``progress(done, total)`` callback.

    ``show``: None (default) = a bar on a terminal after ``delay`` seconds, plain lines
    off a terminal after ``PLAIN_DELAY`` seconds; True = from the start; False = never.
    """

    def __init__(self, description: str, delay: float = 1.0, console: Console | None = None,
                 show: bool | None = None) -> None:
        self.description = description
        self.console = console if console is not None else make_console(stderr=True)
        self.terminal = self.console.is_terminal
        self.enabled = show is not False
        self.forced = show is True
        self.delay = 0.0 if self.forced else (delay if self.terminal else PLAIN_DELAY)
        self.interval = PLAIN_INTERVAL_FORCED if self.forced else PLAIN_INTERVAL
        self._start = 0.0
        self._progress = None
        self._task = None
        self._next_line = None  # when the next plain line is due
        self.lines = 0  # plain lines written

    def __enter__(self) -> "DelayedProgress":
        self._start = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    @property
    def shown(self) -> bool:
        return self._progress is not None or self.lines > 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._start < self.delay:
            return
        if not self.terminal:
            if self._next_line is None or now >= self._next_line:
                self._plain_line(done, total, now - self._start)
                self._next_line = now + self.interval
            return
        if self._progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=self.console, transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=total)
        # the total may grow (the re-estimates of a black-box check join when known)
        self._progress.update(self._task, completed=done, total=max(total, done))

    def _plain_line(self, done: int, total: int, elapsed: float) -> None:
        share = f" ({100 * done / total:.0f}%)" if total else ""
        stream = self.console.file if self.console.file is not None else sys.stderr
        try:
            stream.write(f"progress: {self.description} {done}/{total}{share}, {elapsed:.0f} s\n")
            stream.flush()
        except (OSError, ValueError):
            self.enabled = False  # stderr is gone: the check goes on
        self.lines += 1
