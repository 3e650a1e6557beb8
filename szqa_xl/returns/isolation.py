"""Every returned file read in a worker process, under a time limit and a memory limit.

A file that takes too long, needs too much memory or kills its process costs
only that file: it is rejected by name with what happened, its worker is
replaced and the batch goes on.  Every path that reads returns on a user's
behalf — ``szqa consolidate`` (any ``--workers``), ``szqa check``, the UDFs —
comes through :func:`read_bounded`, so none of them can be stalled or killed by
a file.  When the caller stops (an exception, Ctrl-C) every worker is killed
before the exception goes on: no process is left behind.

Workers are forked where fork is safe (Linux), so they inherit the parsed
standards and templates; elsewhere they are spawned.  The memory limit is an
address-space limit set in the worker (``resource.RLIMIT_AS``) where the
platform enforces one; on Windows only the time limit applies.
"""

from __future__ import annotations

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

from ..problems import Problem
from ..reader import ReturnFile, read_return
from . import DEFAULT_MEMORY_LIMIT, DEFAULT_TIME_LIMIT


def _context():
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return get_context(method)


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


def _worker(conn: Connection, memory_mib: int) -> None:
    """Read files named on ``conn`` until it closes; answer each with (index, ReturnFile)."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it kills us when it stops
    _limit_memory(memory_mib)
    parent = os.getppid()
    while True:
        try:
            while not conn.poll(1.0):
                if os.getppid() != parent:  # the parent was killed without a word: stop too
                    return
            index, path = conn.recv()
        except (EOFError, OSError):
            return
        try:
            rf = read_return(path)
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
    task: tuple[int, Path] | None = None
    deadline: float = 0.0


def read_bounded(
    paths: list[Path],
    workers: int = 2,
    time_limit: float = DEFAULT_TIME_LIMIT,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[int, ReturnFile]]:
    """(index in ``paths``, result) of every file, in the order they finish.

    ``workers`` processes read at once (at least one: a read never runs in the
    caller's process).  A read past ``time_limit`` seconds is rejected as
    ``too-slow``; one past ``memory_limit`` MiB as ``too-much-memory``; one
    whose process dies as ``reader-crash``.
    """
    ctx = _context()
    queue = deque((i, Path(p)) for i, p in enumerate(paths))
    slots: list[_Slot] = []
    done = 0

    def start() -> _Slot:
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(theirs, memory_limit), daemon=True)
        proc.start()
        theirs.close()
        return _Slot(proc, mine)

    def assign(slot: _Slot) -> None:
        if queue:
            slot.task = queue.popleft()
            slot.deadline = time.monotonic() + time_limit
            slot.conn.send((slot.task[0], str(slot.task[1])))
        else:
            slot.task = None

    def retire(slot: _Slot) -> None:
        proc = slot.process
        if proc.is_alive():  # type: ignore[attr-defined]
            proc.kill()  # type: ignore[attr-defined]
        proc.join()  # type: ignore[attr-defined]
        slot.conn.close()

    try:
        for _ in range(max(1, min(workers, len(paths)))):
            slot = start()
            slots.append(slot)
            assign(slot)
        while any(s.task is not None for s in slots):
            busy = [s for s in slots if s.task is not None]
            timeout = max(0.0, min(s.deadline for s in busy) - time.monotonic())
            ready = set(wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout))  # type: ignore[attr-defined]
            for k, slot in enumerate(slots):
                if slot.task is None:
                    continue
                index, path = slot.task
                result: ReturnFile | None = None
                replace = False
                if slot.conn in ready:
                    try:
                        got_index, result = slot.conn.recv()
                        if got_index != index:
                            raise RuntimeError(f"worker answered for file {got_index}, asked {index}")
                    except (EOFError, OSError):
                        result = failed(
                            path, "reader-crash", "文件导致读取程序崩溃（文件已损坏或被恶意构造），已拒收"
                        )
                        replace = True
                elif slot.process.sentinel in ready:  # type: ignore[attr-defined]
                    result = failed(
                        path, "reader-crash", "文件导致读取程序崩溃（文件已损坏或被恶意构造），已拒收"
                    )
                    replace = True
                elif time.monotonic() >= slot.deadline:
                    result = failed(
                        path,
                        "too-slow",
                        f"读取超过 {time_limit:g} 秒仍未完成（文件被恶意构造或已损坏），已拒收；"
                        "如确为正常评分表，请用 --time-limit 放宽后重试",
                    )
                    replace = True
                if result is None:
                    continue
                if replace:
                    retire(slot)
                    if queue:
                        slot = slots[k] = start()
                if replace and not queue:
                    slot.task = None
                else:
                    assign(slot)
                done += 1
                if progress:
                    progress(done, len(paths))
                yield index, result
    finally:
        for slot in slots:
            try:
                retire(slot)
            except Exception:  # noqa: BLE001 - already stopping: kill what can be killed
                pass
