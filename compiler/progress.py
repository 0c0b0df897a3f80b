"""Progress of the long steps (compile levels, Verilog conversion, Verilator build and run,
Yosys, Vivado, scan points), drawn by rich on a terminal and silent everywhere else.

Library code marks its long steps and never decides whether they are shown::

    with progress.step("circuit level"):
        ...
    with progress.step("Verilog", total=len(modules)) as advance:
        for ...: advance()

Nothing is drawn unless a caller asked for it with ``shown()``: the ``rtlflow`` command does,
when stderr is a terminal and ``--quiet`` is not given. Python callers (notebooks, scripts,
tests) and processes started by the compiler (conversion workers, scan workers) see no
progress. A finished step stays on the screen as one line with its time.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

#: columns of a step's description, so that the bars of consecutive steps line up
DESCRIPTION = 46

_DISPLAY: ContextVar[Any] = ContextVar("rtlflow_progress", default=None)


def _ignore(count: int = 1) -> None:
    del count


def wanted(quiet: bool = False) -> bool:
    """Whether the command line shows progress: stderr is a terminal and not ``--quiet``."""
    return not quiet and sys.stderr.isatty()


class _Display:
    """The steps drawn on stderr. The rich display runs only while a step does, so what the
    command prints between steps is never drawn over; a step's line stays when it ends."""

    def __init__(self) -> None:
        self.live: Any = None
        self.depth = 0

    def begin(self) -> Any:
        if self.depth == 0:
            from rich.console import Console
            from rich.table import Column
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.live = Progress(
                SpinnerColumn(finished_text="[green]✓"),
                TextColumn("{task.description}", table_column=Column(min_width=DESCRIPTION)),
                BarColumn(bar_width=12),
                TextColumn("{task.fields[count]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                # what is printed meanwhile goes above the steps, on the same terminal only
                redirect_stdout=sys.stdout.isatty(),
            )
            self.live.start()
        self.depth += 1
        return self.live

    def end(self) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.live.stop()
            self.live = None


@contextlib.contextmanager
def shown(enabled: bool = True) -> Iterator[None]:
    """Draw the steps started inside this block on stderr (if ``enabled``)."""
    if not enabled or _DISPLAY.get() is not None:
        yield
        return
    token = _DISPLAY.set(_Display())
    try:
        yield
    finally:
        _DISPLAY.reset(token)


@contextlib.contextmanager
def hidden() -> Iterator[None]:
    """No steps drawn inside this block (the parts of a step that counts them itself)."""
    token = _DISPLAY.set(None)
    try:
        yield
    finally:
        _DISPLAY.reset(token)


def showing() -> bool:
    """Whether steps are being drawn (so a caller may skip its own plain-text notes)."""
    return _DISPLAY.get() is not None


@contextlib.contextmanager
def step(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A long step; yields ``advance(count=1)`` for steps of ``total`` parts."""
    holder = _DISPLAY.get()
    if holder is None:
        yield _ignore
        return
    from rich.markup import escape

    display = holder.begin()
    description = escape(description)
    done = 0

    def count() -> str:
        return f"{done}/{total}" if total is not None else ""

    task = display.add_task(description, total=total, count=count())

    def advance(parts: int = 1) -> None:
        nonlocal done
        done += parts
        display.update(task, advance=parts, count=count())

    failed = True
    try:
        yield advance
        failed = False
    finally:
        if failed:
            display.update(task, description=f"{description} [red]stopped")
        else:
            finished = total if total is not None else 1
            display.update(task, total=finished, completed=finished, count=count())
        display.stop_task(task)
        holder.end()
