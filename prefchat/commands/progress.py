"""Rich progress bars on stderr for long commands, fed by the engine's progress(stage, done, total)
callbacks: one bar per stage, labelled for people, so stdout stays clean for --json and pipes."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

Callback = Callable[[str, int, int], None]


@contextmanager
def stage_bars(labels: dict[str, str], enabled: bool = True) -> Iterator[Callback]:
    """Yield a progress callback. Unknown stages get a bar named as the stage; disabled: no output."""
    con = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=con, disable=not enabled) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress
