"""Progress on stderr for long checks: shown only on a terminal, only after a delay."""

from __future__ import annotations

from rich.console import Console

from .table import make_console


class DelayedProgress:
    """A progress bar on stderr for a long check, as a ``progress(done, total)`` callback.

    It appears only when stderr is a terminal and the work has run for ``delay``
    seconds, and it disappears when done, so short checks and logs stay clean.
    """

    def __init__(self, description: str, delay: float = 1.0, console: Console | None = None) -> None:
        self.description = description
        self.delay = delay
        self.console = console if console is not None else make_console(stderr=True)
        self.enabled = self.console.is_terminal
        self._start = 0.0
        self._progress = None
        self._task = None

    def __enter__(self) -> "DelayedProgress":
        import time

        self._start = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._progress is None:
            import time

            if time.monotonic() - self._start < self.delay:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=self.console, transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=total)
        # the total may grow (the re-estimates of a black-box check join when known)
        self._progress.update(self._task, completed=done, total=max(total, done))
