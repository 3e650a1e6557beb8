"""Every returned file read in a worker process, under a time limit and a memory limit.

A file that takes too long, needs too much memory or kills its process costs
only that file: it is rejected by name with what happened, its worker is
replaced and the batch goes on.  Every path that reads returns on a user's
behalf — ``szqa consolidate`` (any ``--workers``), ``szqa check``, the UDFs —
comes through :func:`read_bounded`, so none of them can be stalled or killed by
a file.  When the caller stops (an exception, Ctrl-C) every worker is killed
before the exception goes on: no process is left behind.

Workers are forked where fork is safe (as for the output writers: not on
Windows or macOS, and only while this process has one thread), so they inherit
the parsed standards and templates; elsewhere they are spawned.  The memory
limit is an address-space limit set in the worker (``resource.RLIMIT_AS``)
where the platform enforces one; on Windows only the
time limit applies.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from pathlib import Path

from szqa_xl.problems import Problem
from szqa_xl.returns import DEFAULT_MEMORY_LIMIT, DEFAULT_TIME_LIMIT
from szqa_xl.returns.reader import ReturnFile, read_return
from szqa_xl.xlsx.forking import fork_is_safe_now


def _context():
    # Fork where the output writers fork too, and only while this process has one thread (see
    # ``xlsx.forking.fork_is_safe_now``, the one rule for both); spawned workers import what they need
    # instead, slower to start but safe beside any thread.
    return get_context("fork" if fork_is_safe_now() else "spawn")


def _limit_memory(mib: int) -> None:
    try:
        import resource
    except ImportError:  # Windows: no address-space limit; the time limit still applies
        return
    if sys.platform == "darwin":  # RLIMIT_AS is not enforced there
        return
    try:
        with open("/proc/self/statm") as fh:
            current = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        current = 0
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    want = current + mib * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    resource.setrlimit(resource.RLIMIT_AS, (want, hard))


def _die_with_parent() -> None:
    """On Linux, ask the kernel to kill this worker when its parent dies, however it dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # the parent-polling loop in _worker still ends an idle worker


def _worker(conn: Connection, memory_mib: int, reader: Callable[[str], object] | None = None) -> None:
    """Read the files of each batch named on ``conn`` until it closes; answer file by file with
    (index, ReturnFile), so the parent always knows which file is being read."""
    # A forked worker inherits every object of its parent (~90,000 in `szqa consolidate`: the
    # standards, the templates, the modules), and each full collection of the cycle collector would
    # walk them all again.  Frozen, they are left out of every collection (new objects are collected
    # as before).  A return saved by LibreOffice, whose shared strings become thousands of objects,
    # was read in 7.4 instead of 10.6 ms (measured on 300 of them; an openpyxl-saved one: no change).
    gc.freeze()
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it kills us when it stops
    _limit_memory(memory_mib)
    parent = os.getppid()
    while True:
        try:
            while not conn.poll(1.0):
                if os.getppid() != parent:  # the parent was killed without a word: stop too
                    return
            batch = conn.recv()
        except (EOFError, OSError):
            return
        for index, path in batch:
            try:
                rf = (reader or read_return)(path)
            except MemoryError:
                rf = None
                rf = failed(
                    path,
                    "too-much-memory",
                    f"读取此文件所需内存超过上限 {memory_mib} MB（文件被恶意构造或已损坏），已拒收",
                )
            except BaseException as exc:  # a bug must not stop the batch, nor travel back unpicklable
                rf = failed(
                    path,
                    "reader-crash",
                    f"读取时发生内部错误（{type(exc).__name__}: {exc}），请将此文件报告给维护者",
                )
            try:
                conn.send((index, rf))
            except MemoryError:
                conn.send((index, failed(path, "too-much-memory", "读取结果过大，已拒收")))


def failed(path: Path | str, code: str, message: str) -> ReturnFile:
    """A file rejected by what happened to its read, not by its content."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return ReturnFile(
        path=path,
        name=path.name,
        sha256="",
        size=size,
        read_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        problems=[Problem(code, message, path.name)],
    )


@dataclass
class _Slot:
    process: object
    conn: Connection
    pending: deque  # (index, path) sent to the worker and not answered yet, in reading order
    deadline: float = 0.0


BATCH = 8
"""Most files handed to a worker at once: it reads the next while its answer travels back."""


def read_bounded(
    paths: list[Path],
    workers: int = 2,
    time_limit: float = DEFAULT_TIME_LIMIT,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    progress: Callable[[int, int], None] | None = None,
    reader: Callable[[str], object] | None = None,
) -> Iterator[tuple[int, ReturnFile]]:
    """(index in ``paths``, result) of every file, in the order they finish.

    ``workers`` processes read at once (at least one: a read never runs in the
    caller's process).  Each gets a few files at a time and answers file by
    file; each file has ``time_limit`` seconds from the moment its worker
    starts on it.  A read past it is rejected as ``too-slow`` (its worker is
    killed, the files queued behind it go to a fresh one); one past
    ``memory_limit`` MiB as ``too-much-memory``; one whose process dies as
    ``reader-crash``.  ``reader`` (a module-level function of a path, so a spawned worker can
    import it; None: ``read_return``) is ``read_return`` unless another kind of file is read the same way, such as a
    panel's consensus workbook; a read that fails comes back as a rejected ``ReturnFile``.
    """
    ctx = _context()
    queue = deque((i, Path(p)) for i, p in enumerate(paths))
    slots: list[_Slot] = []
    done = 0
    n_workers = max(1, min(workers, len(paths)))
    size = max(1, min(BATCH, len(paths) // (n_workers * 4) or 1))

    def start() -> _Slot:
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(theirs, memory_limit, reader), daemon=True)
        proc.start()
        theirs.close()
        return _Slot(proc, mine, deque())

    def feed(slot: _Slot) -> None:
        """Keep a worker busy: a batch whenever it has at most one file left to answer."""
        if len(slot.pending) <= 1 and queue:
            batch = [queue.popleft() for _ in range(min(size, len(queue)))]
            if not slot.pending:
                slot.deadline = time.monotonic() + time_limit
            slot.pending.extend(batch)
            slot.conn.send([(i, str(p)) for i, p in batch])

    def retire(slot: _Slot) -> None:
        proc = slot.process
        if proc.is_alive():  # type: ignore[attr-defined]
            proc.kill()  # type: ignore[attr-defined]
        proc.join()  # type: ignore[attr-defined]
        slot.conn.close()

    crashed = "文件导致读取程序崩溃（文件已损坏或被恶意构造），已拒收"
    try:
        for _ in range(n_workers):
            slot = start()
            slots.append(slot)
            feed(slot)
        while any(s.pending for s in slots):
            busy = [s for s in slots if s.pending]
            timeout = max(0.0, min(s.deadline for s in busy) - time.monotonic())
            handles = [s.conn for s in busy] + [s.process.sentinel for s in busy]  # type: ignore[attr-defined]
            ready = set(wait(handles, timeout))
            for k, slot in enumerate(slots):
                if not slot.pending:
                    continue
                answers: list[tuple[int, ReturnFile]] = []
                broken: ReturnFile | None = None
                try:
                    while slot.conn.poll():
                        index, rf = slot.conn.recv()
                        if index != slot.pending[0][0]:
                            raise RuntimeError(
                                f"worker answered for file {index}, expected {slot.pending[0][0]}"
                            )
                        slot.pending.popleft()
                        answers.append((index, rf))
                        slot.deadline = time.monotonic() + time_limit
                        if not slot.pending:
                            break
                except (EOFError, OSError):
                    broken = failed(slot.pending[0][1], "reader-crash", crashed)
                if broken is None and slot.pending:
                    if slot.process.sentinel in ready and not slot.process.is_alive():  # type: ignore[attr-defined]
                        broken = failed(slot.pending[0][1], "reader-crash", crashed)
                    elif time.monotonic() >= slot.deadline:
                        broken = failed(
                            slot.pending[0][1],
                            "too-slow",
                            f"读取超过 {time_limit:g} 秒仍未完成（文件被恶意构造或已损坏），已拒收；"
                            "如确为正常评分表，请用 --time-limit 放宽后重试",
                        )
                if broken is not None:
                    answers.append((slot.pending.popleft()[0], broken))
                    queue.extendleft(reversed(slot.pending))  # the files behind it: to a fresh worker
                    slot.pending.clear()
                    retire(slot)
                    if queue:
                        slot = slots[k] = start()
                feed(slot)
                for index, rf in answers:
                    done += 1
                    if progress:
                        progress(done, len(paths))
                    yield index, rf
    finally:
        for slot in slots:
            try:
                retire(slot)
            except Exception:  # noqa: BLE001 - already stopping: kill what can be killed
                pass
