"""Every read of a return is bounded: a file that runs forever, eats memory or kills its worker costs
only that file, on every path (batch with any --workers, ``szqa check``, the UDF), and an
interrupted run leaves no process behind.

The misbehaving reads are stand-ins installed with monkeypatch (the workers are forked, so they
inherit them): the real reader is linear in the file's size, so no honest file is slow; these tests
prove the bound, not the reader.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import hostile_files as hf
import pytest
from typer.testing import CliRunner

import szqa_xl.returns.isolation as isolation
from szqa_xl.cli import app
from szqa_xl.consolidation.batch import read_all

pytestmark = pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="needs fork: workers inherit the stand-in reader"
)

SLOW = "slow.xlsx"
HOG = "hog.xlsx"


@pytest.fixture
def misbehaving(monkeypatch):
    """Reads that never end (SLOW) or try to take 8 GB (HOG); every other file is read for real."""
    real = isolation.read_return

    def read(path, *args, **kw):
        name = Path(path).name
        if name == SLOW:
            while True:  # a pathological file: the read would never finish
                pass
        if name == HOG:
            hog = bytearray(8 * 1024**3)
            return hog  # never reached under the memory limit
        return real(path, *args, **kw)

    monkeypatch.setattr(isolation, "read_return", read)


def _batch(kit: hf.Kit, tmp_path: Path, *extra: str) -> Path:
    folder = kit.batch(tmp_path / "returns")
    for name in extra:
        (folder / name).write_bytes(kit.victim.read_bytes())
    return folder


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_file_that_runs_forever_is_rejected_and_the_batch_finishes(
    hostile_kit, tmp_path, misbehaving, workers
):
    folder = _batch(hostile_kit, tmp_path, SLOW)
    started = time.monotonic()
    out = hf.check_batch(hostile_kit, folder, workers=workers, time_limit=1.5)
    elapsed = time.monotonic() - started
    rec = out.record(SLOW)
    p = hf.problem(rec, "too-slow", words=["1.5 秒", "--time-limit"])
    assert p.file == SLOW
    assert elapsed < 60, f"the batch waited {elapsed:.0f} s for a file limited to 1.5 s"


def test_file_that_needs_too_much_memory_is_rejected(hostile_kit, tmp_path, misbehaving):
    if not sys.platform.startswith("linux"):
        pytest.skip("the memory limit is enforced on Linux only")
    folder = _batch(hostile_kit, tmp_path, HOG)
    out = hf.check_batch(hostile_kit, folder, workers=1)
    hf.problem(out.record(HOG), "too-much-memory", words=["内存"])


def test_check_command_is_bounded_too(hostile_kit, tmp_path, misbehaving):
    path = tmp_path / SLOW
    path.write_bytes(hostile_kit.victim.read_bytes())
    result = CliRunner().invoke(app, ["check", str(path), "--time-limit", "1"])
    assert result.exit_code == 1, result.output
    assert "1 秒" in result.output and "已拒收" in result.output


def test_next_file_is_read_by_a_fresh_worker_after_a_timeout(hostile_kit, tmp_path, misbehaving):
    """The worker stuck on the slow file is killed and replaced: the files queued after it are read."""
    slow = tmp_path / SLOW
    slow.write_bytes(hostile_kit.victim.read_bytes())
    good = [hostile_kit.filled[e] for e in hf.GOOD]
    results = read_all([slow, *good], workers=1, time_limit=1.0)
    assert [r.problems[0].code for r in results[:1]] == ["too-slow"]
    assert [r.status for r in results[1:]] == ["accepted"] * len(good)


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_interrupted_run_leaves_no_worker_behind(hostile_kit, tmp_path, how):
    """Ctrl-C (SIGINT) or a hard kill of the consolidating process while a worker is stuck on a file:
    every worker is gone shortly after."""
    folder = _batch(hostile_kit, tmp_path, SLOW)
    script = textwrap.dedent(
        f"""
        import signal
        import sys
        from pathlib import Path
        # Ctrl-C as at a terminal: a process started in the background of a shell (pytest run with
        # `&`, say) inherits SIGINT ignored, and so would this one, which would then never stop.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import szqa_xl.returns.isolation as isolation
        real = isolation.read_return
        def read(path, *a, **k):
            if Path(path).name == {SLOW!r}:
                while True:
                    pass
            return real(path, *a, **k)
        isolation.read_return = read
        from szqa_xl.consolidation.batch import consolidate_dir
        print("started", flush=True)
        consolidate_dir({str(folder)!r}, workers=2, time_limit=600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        workers: set[int] = set()
        deadline = time.monotonic() + 30
        while len(workers) < 1 and time.monotonic() < deadline:
            workers = _children(proc.pid)
            time.sleep(0.1)
        assert workers, "no worker was started"
        time.sleep(1.0)  # the slow file is being read
        os.kill(proc.pid, signal.SIGINT if how == "SIGINT" else signal.SIGKILL)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the consolidating process outlived {how} by 30 s: {_diagnosis(proc.pid)}")
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = {w for w in alive if Path(f"/proc/{w}").exists() and "Z" not in _state(w)}
        time.sleep(0.1)
    assert not alive, f"workers left running after {how}: {sorted(alive)}"


def _diagnosis(pid: int) -> str:
    """What a process that should have stopped is doing: its signal masks, where it waits, its children."""
    proc = Path(f"/proc/{pid}")
    try:
        status = dict(
            line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line
        )
        wchan = (proc / "wchan").read_text()
    except OSError as exc:
        return f"(cannot read /proc/{pid}: {exc})"
    keys = ("State", "Threads", "SigBlk", "SigIgn", "SigCgt", "SigPnd", "ShdPnd")
    facts = ", ".join(f"{k} {status.get(k, '?').strip()}" for k in keys)
    return f"{facts}, waiting in {wchan or '?'}, children {sorted(_children(pid))}"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_readers_fork_exactly_where_the_output_writers_fork(monkeypatch):
    """One platform rule for every process the tool starts: where the writers fork (Linux, and other
    Unix systems such as FreeBSD) the readers fork too; where the writers do not (Windows, macOS:
    ``forking.can_fork`` false) the readers are spawned."""
    import szqa_xl.xlsx.forking as forking

    if not forking.fork_is_safe_now():
        pytest.skip("fork is not used here")
    monkeypatch.setattr(sys, "platform", "freebsd14")
    assert forking.fork_is_safe_now()
    assert isolation._context().get_start_method() == "fork"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not forking.fork_is_safe_now()
    assert isolation._context().get_start_method() == "spawn"
