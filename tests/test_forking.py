"""Output jobs shared between this process and forked helpers (``xlsx.forking.run_shared``)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from szqa_xl.xlsx import forking
from szqa_xl.xlsx.forking import HelperFailed, run_shared

needs_fork = pytest.mark.skipif(not forking.can_fork(), reason="fork is not used on this platform")


@pytest.mark.parametrize("helpers", [0, 1, 2, 3])
def test_every_result_in_job_order(helpers: int) -> None:
    lock = threading.Lock()  # a job may close over what cannot be pickled: it is inherited, not sent
    jobs = [lambda k=k: (k * k, lock.locked()) for k in range(25)]
    assert run_shared(jobs, helpers) == [(k * k, False) for k in range(25)]


@needs_fork
def test_the_first_job_runs_here_while_helpers_take_the_others() -> None:
    ran_first = []

    def first() -> None:
        ran_first.append(os.getpid())
        time.sleep(0.3)  # the helpers take jobs meanwhile

    def job() -> int:
        time.sleep(0.02)
        return os.getpid()

    pids = run_shared([job] * 10, 2, first=first)
    assert ran_first == [os.getpid()]
    assert len(pids) == 10 and os.getpid() not in pids[:2]  # the first jobs were taken by helpers
    assert len(set(pids) - {os.getpid()}) >= 1


@needs_fork
def test_a_failing_job_in_a_helper_is_raised_here_with_the_helpers_traceback() -> None:
    def boom() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left") as info:
        run_shared([boom, lambda: 1], 1, first=lambda: time.sleep(0.2))
    assert isinstance(info.value.__cause__, HelperFailed)
    assert "in boom" in str(info.value.__cause__)  # where it happened, in the helper


@needs_fork
def test_an_exception_that_cannot_be_pickled_is_still_reported() -> None:
    class Local(Exception):  # a local class cannot be pickled
        pass

    def boom() -> None:
        raise Local("bad plan for 共识表")

    with pytest.raises(HelperFailed, match="bad plan for 共识表"):
        run_shared([boom], 1, first=lambda: time.sleep(0.2))


@needs_fork
def test_a_helper_that_dies_is_an_error_not_a_missing_file() -> None:
    def die() -> None:
        os._exit(3)

    with pytest.raises(HelperFailed, match="died"):
        run_shared([die], 1, first=lambda: time.sleep(0.2))


def test_without_fork_everything_runs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forking, "can_fork", lambda: False)
    order: list[str] = []
    out = run_shared([lambda: order.append("job") or os.getpid()], 2, first=lambda: order.append("first"))
    assert out == [os.getpid()] and order == ["first", "job"]


@needs_fork
def test_no_helper_is_forked_while_another_thread_runs() -> None:
    # A helper forked now would inherit ``lock`` held by a thread it does not have, and wait for
    # it forever (as one CI run did, with two consolidations in threads of one process).
    lock = threading.Lock()
    lock.acquire()
    other = threading.Timer(0.3, lock.release)
    other.start()

    def job() -> int:
        with lock:
            return os.getpid()

    try:
        assert run_shared([job] * 4, 2) == [os.getpid()] * 4
    finally:
        other.join()


class _Cycle:
    """An object in a reference cycle: freed only by the cycle collector."""

    def __init__(self) -> None:
        self.me = self


@pytest.mark.parametrize("helpers", [0, 1])
@pytest.mark.parametrize("fails", [False, True])
def test_the_callers_garbage_is_collected_after_the_jobs_as_before(helpers: int, fails: bool) -> None:
    """The jobs run with what existed before them frozen out of the cycle collector; once they are
    done (or have failed) nothing is left frozen, so a long-lived caller (Excel's Python, a service)
    gets its cyclic garbage back as before, rather than keeping it for ever."""
    import gc
    import weakref

    left = _Cycle()
    gone = weakref.ref(left)
    seen_frozen = []

    def job() -> int:
        seen_frozen.append(gc.get_freeze_count() > 0)
        if fails:
            raise ValueError("a bad plan")
        return 1

    del left  # cyclic garbage from before the jobs: not collected while they run
    try:
        run_shared([job], helpers)
    except ValueError:
        assert fails
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gone() is None
    if helpers == 0:
        assert seen_frozen == [True]


def test_a_callers_own_frozen_objects_stay_frozen() -> None:
    """A caller that froze its objects (a pre-forking server does) keeps them frozen: run_shared does
    not unfreeze what it did not freeze."""
    import gc
    import weakref

    kept = _Cycle()
    frozen = weakref.ref(kept)
    del kept
    gc.freeze()  # the caller's: its garbage cycle is frozen with the rest
    try:
        assert run_shared([lambda: 2, lambda: 3], 1) == [2, 3]
        gc.collect()
        assert frozen() is not None  # still frozen, so not collected
    finally:
        gc.unfreeze()
    gc.collect()
    assert frozen() is None
