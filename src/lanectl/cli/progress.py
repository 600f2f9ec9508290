"""Progress for long commands (dispatch, review, run): one reporter, three faces.

Domain code reports ``(subject, phase, message)`` — a task id or a review
role, what happened, one line — possibly from worker threads. Here that
becomes nothing under ``--json``, one plain line per event when stdout is not
a terminal (logs and pipes stay greppable), or a live rich view with a spinner
per subject on a terminal.
"""

import sys
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager

from lanectl.cli.common import is_tty

Report = Callable[[str, str, str], None]
MARKS = {
    "review": "✓", "recorded": "✓", "reused": "✓", "current": "✓", "waiting": "…",
    "blocked": "✗", "incomplete": "✗", "error": "✗", "lost": "!", "skipped": "–",
}  # fmt: skip


@contextmanager
def reporter(
    json_out: bool,
    final: Collection[str],
    *,
    width: int = 10,
    marks: Mapping[str, str] = MARKS,
) -> Iterator[Report]:
    """Yield a thread-safe ``report(subject, phase, message)``; ``final`` phases end a row."""
    lock = threading.Lock()
    if json_out:
        yield lambda subject, phase, message: None
        return
    if not is_tty():

        def plain(subject: str, phase: str, message: str) -> None:
            with lock:
                sys.stdout.write(f"{subject:<{width}}  {phase:<10} {message}\n")
                sys.stdout.flush()

        yield plain
        return
    from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}")) as progress:
        rows: dict[str, TaskID] = {}

        def live(subject: str, phase: str, message: str) -> None:
            with lock:
                if subject not in rows:
                    rows[subject] = progress.add_task("", total=1)
                mark = marks.get(phase, "") if phase in final else ""
                progress.update(
                    rows[subject],
                    description=f"{mark + ' ' if mark else ''}{subject}  {phase}: {message}",
                    completed=1 if phase in final else 0,
                )

        yield live
