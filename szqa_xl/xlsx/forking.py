"""Independent output jobs shared between this process and forked helpers.

Writing a consolidation's outputs is CPU work in Python over data already in
memory: the consolidated workbook (one indivisible job: a workbook cannot be
shared between processes), scores.csv and a panel workbook per applicant.  A
forked helper (``multiprocessing.Process`` with the fork start method) inherits
the jobs as closures, so nothing large is pickled: only each job's small result
travels back.  Where fork is not available or not safe (Windows, macOS, or
while another thread of this process runs) every job runs in this process
instead: same results, one core.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    """Fork is used where it is safe with the libraries loaded: not on Windows (no fork) nor on
    macOS, where a forked child of a process that touched system frameworks may crash."""
    return sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()


def fork_is_safe_now() -> bool:
    """Fork only from a process whose one thread is this one: a child forked while another
    thread holds a lock (an import, a file's buffer, a caller's own lock) inherits it held by
    a thread that does not exist there, and waits for it forever.  Two consolidations run in
    threads of one process, or a progress display refreshing from its own thread, would hang."""
    return can_fork() and threading.active_count() == 1


class HelperFailed(RuntimeError):
    """A job failed in a forked helper (its traceback is the message), or a helper died."""


def _claim(counter) -> int:
    with counter.get_lock():
        i = counter.value
        counter.value = i + 1
    return i


def _helper(jobs: Sequence[Callable[[], Any]], counter, conn, results: str) -> None:
    """Take jobs in order until none is left, each result pickled to the file ``results`` as it
    comes (a helper never holds them all, nor waits on the pipe while the parent is busy with its
    own job); then say how many there are."""
    try:
        count = 0
        with open(results, "wb") as fh:
            while (i := _claim(counter)) < len(jobs):
                pickle.dump((i, jobs[i]()), fh, protocol=pickle.HIGHEST_PROTOCOL)
                count += 1
        conn.send(("ok", count))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        text = traceback.format_exc()
        try:
            conn.send(("failed", (exc, text)))
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled: its traceback only
            conn.send(("failed", (None, text)))
    finally:
        conn.close()


def _results(path: str, count: int) -> Iterator[tuple[int, Any]]:
    """The results a helper of this run wrote (this process's own temporary file)."""
    with open(path, "rb") as fh:
        for _ in range(count):
            yield pickle.load(fh)


@contextmanager
def _collector_spared() -> Iterator[None]:
    """The objects that exist when the jobs start are left out of the cycle collector until they end.

    The jobs create objects by the million (XlsxWriter's cells, formats, charts) and the collector
    runs again and again; each full collection would walk, besides the new objects, everything that
    was there before: the imported modules and the data the jobs write (~96,000 objects after
    consolidating 1,000 returns).  Frozen (``gc.freeze``) they are not walked; objects made by the
    jobs are collected as before, and helpers forked meanwhile inherit the frozen state.  Measured on
    the 1,000 returns: the consolidated workbook 2.13 -> 1.94 s, the panel workbooks 2.85 -> 2.68 s.
    Nothing is frozen when the caller has frozen objects itself: unfreezing would undo that.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_shared(
    jobs: Sequence[Callable[[], T]], helpers: int, first: Callable[[], Any] | None = None
) -> list[T]:
    """Run ``first()`` here while ``helpers`` forked processes take ``jobs`` in order; once
    ``first`` is done this process takes jobs too.  Every job's result, in job order.

    The objects that exist when they start are left out of the cycle collector meanwhile
    (see :func:`_collector_spared`).  The jobs are never pickled (they may close over anything);
    their results are, to a temporary file of each helper as they come, read back here at the end.
    A job that raises in a helper stops that helper; its exception is raised here
    once this process's own work is done, caused by a :class:`HelperFailed` that
    holds the helper's traceback (a :class:`HelperFailed` alone when the exception
    cannot be pickled).  A helper that dies is a :class:`HelperFailed` too.  Without fork, while
    another thread of this process is running, with ``helpers`` < 1 or with no jobs, everything
    runs here in order.  Helpers still running when this returns or raises are
    killed.
    """
    with _collector_spared():
        return _run_shared(jobs, helpers, first)


def _run_shared(jobs: Sequence[Callable[[], T]], helpers: int, first: Callable[[], Any] | None) -> list[T]:
    n = min(helpers, len(jobs))
    if n < 1 or not fork_is_safe_now():
        if first is not None:
            first()
        return [job() for job in jobs]
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    started = []
    with tempfile.TemporaryDirectory(prefix="szqa-xl-jobs-") as tmp:
        try:
            for k in range(n):
                mine, theirs = ctx.Pipe(duplex=False)
                path = os.path.join(tmp, f"helper{k}.pickle")
                proc = ctx.Process(target=_helper, args=(jobs, counter, theirs, path), daemon=True)
                proc.start()
                theirs.close()
                started.append((proc, mine, path))
            if first is not None:
                first()
            results: dict[int, Any] = {}
            while (i := _claim(counter)) < len(jobs):
                results[i] = jobs[i]()
            for proc, conn, path in started:
                try:
                    status, payload = conn.recv()
                except EOFError:
                    proc.join()
                    raise HelperFailed(f"a helper process died (exit code {proc.exitcode})") from None
                if status != "ok":
                    exc, text = payload
                    if isinstance(exc, Exception):  # the job's own exception (a full disk stays an OSError)
                        raise exc from HelperFailed(text)
                    raise HelperFailed(text)
                results.update(_results(path, payload))
                proc.join()
        finally:
            for proc, conn, _ in started:
                if proc.is_alive():
                    proc.kill()
                proc.join()
                conn.close()
    missing = [i for i in range(len(jobs)) if i not in results]
    if missing:  # a job claimed and not answered cannot happen unless a helper lost it
        raise HelperFailed(f"jobs {missing[:5]} were not done")
    return [results[i] for i in range(len(jobs))]
