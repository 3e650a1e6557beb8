"""Helper processes that inherit their work by fork: for output jobs over data too large to pickle.

Writing a consolidated workbook and its CSV is CPU work in Python over data
already in memory (the consolidation, the comment store, the sheet plans).
A forked helper gets all of it for free; only the small arguments and results
of each call are pickled.  Where fork is not available or not safe (Windows,
macOS), the work is done in this process instead: same results, one core.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

_jobs: dict[int, Callable[..., Any]] = {}
"""Functions for helpers to run, registered before the helpers are forked (so they inherit them)."""


def can_fork() -> bool:
    """Fork is used where it is safe with the libraries loaded: not on Windows (no fork) nor on
    macOS, where a forked child of a process that touched system frameworks may crash."""
    return sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()


def _run(key: int, *args: Any) -> Any:
    return _jobs[key](*args)


@contextmanager
def forked(fn: Callable[..., Any], processes: int = 1) -> Iterator[Callable[..., Future]]:
    """Yield ``submit(*args) -> Future`` running ``fn(*args)`` in up to ``processes`` forked helpers.

    ``fn`` itself is never pickled: it may close over anything.  An exception in a
    helper is raised by the future's ``result()``.  Without fork (or with
    ``processes`` < 1) calls run at once in this process.
    """
    if processes < 1 or not can_fork():

        def run_here(*args: Any) -> Future:
            future: Future = Future()
            try:
                future.set_result(fn(*args))
            except Exception as exc:
                future.set_exception(exc)
            return future

        yield run_here
        return
    key = id(fn)
    _jobs[key] = fn
    try:
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as ex:
            yield lambda *args: ex.submit(_run, key, *args)
    finally:
        _jobs.pop(key, None)
