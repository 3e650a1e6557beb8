"""Shared helpers of the benchmark scripts: rosters, filled returns, timing, machine facts.

Not part of the package and not imported by the tests.  Everything here writes
only under the work folder it is given.
"""

from __future__ import annotations

import csv
import io
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from szqa_xl.demo import fill_scoresheet, simulate_scores
from szqa_xl.scoresheet.generate import MANIFEST_COLUMNS, generate, read_manifest, scoresheet_path
from szqa_xl.standards import grid
from szqa_xl.standards.load import builtin_standard, fingerprint
from szqa_xl.standards.models import AWARD_IDS

YEAR = 2027
PANEL = 5  # examiners per applicant
PREFIX = {
    "economic": "EC",
    "culture": "CU",
    "social": "SO",
    "ecology": "EL",
    "management": "MG",
    "service": "SV",
}
SURNAMES = "李王张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("明", "芳", "强", "洋", "静", "伟", "敏", "磊", "婷", "军", "霞", "涛")
EXAMINER_POOL = 120
ROSTER_COLUMNS = (
    "applicant_id",
    "applicant_name",
    "award_category",
    "applicant_kind",
    "examiner_id",
    "examiner_name",
    "stage",
)


# -- rosters ---------------------------------------------------------------------------------------


def examiner(k: int) -> tuple[str, str]:
    k %= EXAMINER_POOL
    return f"E{k:03d}", SURNAMES[k % len(SURNAMES)] + GIVEN[k % len(GIVEN)]


def roster_rows(n: int, tag: str = "") -> list[dict[str, str]]:
    """``n`` roster rows: applicants in panels of 5 examiners, award categories in turn.

    Applicant ``a`` gets category ``AWARD_IDS[a % 6]`` (economic, culture, social, ecology,
    management, service), so every category is about 1/6 of the files; non-economic applicants
    alternate organisation/project.  Examiners come from a pool of 120, distinct within a panel,
    so (applicant, examiner) — the consolidation key — is unique.
    """
    rows = []
    for i in range(n):
        a, pos = divmod(i, PANEL)
        cat = AWARD_IDS[a % len(AWARD_IDS)]
        kind = "organisation" if cat == "economic" or (a // len(AWARD_IDS)) % 2 == 0 else "project"
        eid, ename = examiner(a * PANEL + pos)
        rows.append(
            {
                "applicant_id": f"{PREFIX[cat]}{tag}-{a:05d}",
                "applicant_name": f"深圳测试{'项目' if kind == 'project' else '企业'}{tag}{a:05d}号",
                "award_category": cat,
                "applicant_kind": kind,
                "examiner_id": eid,
                "examiner_name": ename,
                "stage": "材料评审",
            }
        )
    return rows


def write_roster(rows: list[dict[str, str]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=ROSTER_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def category_mix(rows: Iterable[dict[str, str]]) -> dict[str, int]:
    mix: dict[str, int] = {c: 0 for c in AWARD_IDS}
    for r in rows:
        mix[r["award_category"]] += 1
    return mix


# -- filled returns --------------------------------------------------------------------------------


def _scores_for(row: dict[str, str], seed: int):
    """What examiner ``pos`` of the panel gives: applicant quality + lenient/severe bias + noise."""
    std = builtin_standard(row["award_category"])
    a = int(row["applicant_id"].rsplit("-", 1)[1])
    pos = int(row.get("_pos", 0))
    q_rng = random.Random(f"{seed}-q-{row['applicant_id']}")
    level = q_rng.randint(35, 80)
    quality = {u.code: grid.snap(min(95, max(5, level + q_rng.randint(-15, 15)))) for u in std.units()}
    bias = {0: 10, 1: -10}.get(pos, 0)
    blanks = 2 if pos == 2 and a % 3 == 0 else 0  # some incomplete returns, as in real life
    rng = random.Random(f"{seed}-s-{row['applicant_id']}-{row['examiner_id']}")
    return simulate_scores(std, quality, bias, rng, blanks=blanks)


def _generate_chunk(args) -> list[dict[str, str]]:
    rows, part_dir = args
    roster = write_roster(rows, part_dir / "roster.csv")
    res = generate(roster, YEAR, part_dir / "sheets")
    if res.problems:
        raise RuntimeError(f"roster problems: {res.problems[:3]}")
    out = read_manifest(res.manifest)
    for r in out:
        r["path"] = (part_dir.name + "/sheets/" + r["path"]) if r["path"] else r["path"]
    return out


def _fill_chunk(args) -> int:
    items, seed = args
    for src, dst, row in items:
        fill_scoresheet(src, dst, _scores_for(row, seed))
    return len(items)


def _chunks(seq: list, k: int) -> list[list]:
    k = max(1, min(k, len(seq)))
    return [seq[i::k] for i in range(k)]


def make_filled(
    rows: list[dict[str, str]],
    work: Path,
    returns: Path,
    jobs: int,
    seed: int = 2027,
    saved_by: str = "openpyxl",
) -> tuple[Path, list[dict[str, str]]]:
    """The faithful way: ``generate()`` the roster, then ``fill_scoresheet`` every file (and, with
    ``saved_by="libreoffice"``, open and save each in LibreOffice Calc).

    Generation is split into ``jobs`` roster chunks run in parallel (each its own ``generate`` call
    and manifest); the manifests are merged into ``work/manifest.csv`` (paths relative to ``work``).
    Returns land flat in ``returns`` under their generated file names, as examiners send them back.
    """
    for i, r in enumerate(rows):
        r["_pos"] = str(i % PANEL)
    parts = [(chunk, work / f"part{k:02d}") for k, chunk in enumerate(_chunks(rows, jobs))]
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        manifests = list(
            ex.map(_generate_chunk, [([{c: r[c] for c in ROSTER_COLUMNS} for r in ch], d) for ch, d in parts])
        )
    manifest_rows = [m for ms in manifests for m in ms]
    by_key = {(r["applicant_id"], r["examiner_id"]): r for r in rows}
    returns.mkdir(parents=True, exist_ok=True)
    items = []
    for m in manifest_rows:
        row = by_key[(m["applicant_id"], m["examiner_id"])]
        items.append((work / m["path"], returns / Path(m["path"]).name, row))
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        done = sum(ex.map(_fill_chunk, [(ch, seed) for ch in _chunks(items, jobs)]))
    assert done == len(rows), (done, len(rows))
    if saved_by == "libreoffice":
        save_with_libreoffice([dst for _, dst, _ in items], jobs)
    manifest = write_manifest(manifest_rows, work / "manifest.csv")
    return manifest, manifest_rows


def write_manifest(rows: list[dict[str, str]], path: Path) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8-sig")
    return path


def _inline_t(text: str) -> list[bytes]:
    esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()
    return [b"<t>" + esc + b"</t>", b'<t xml:space="preserve">' + esc + b"</t>"]


def patch_return(src: Path, dst: Path, old: dict[str, str], new: dict[str, str]) -> None:
    """Copy a filled return, replacing whole string cells ``old[k]`` by ``new[k]`` in every sheet.

    Only exact ``<t>…</t>`` string cells are replaced (the _meta sheet's values and the cover's
    identity cells, in sharedStrings.xml or as inline strings), plus the names in the scoring
    sheet's subtitle, so the copy is what the tool would have generated for the new roster row
    and an examiner would have filled.
    """
    pairs = []
    for k in ("issue_id", "applicant_id", "applicant_name", "examiner_id", "examiner_name"):
        if old[k] != new[k]:
            pairs += list(zip(_inline_t(old[k]), _inline_t(new[k]), strict=True))
    # The scoring sheet's subtitle (A2) names the applicant and the examiner inside a longer text.
    pairs.append(
        (
            f"申报方：{old['applicant_name']}　评审员：{old['examiner_name']}　".encode(),
            f"申报方：{new['applicant_name']}　评审员：{new['examiner_name']}　".encode(),
        )
    )
    tmp = dst.with_name(dst.name + ".tmp")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/sharedStrings.xml" or info.filename.startswith("xl/worksheets/sheet"):
                for a, b in pairs:
                    data = data.replace(a, b)
            zout.writestr(info, data, compress_type=info.compress_type)
    os.replace(tmp, dst)


def _patch_chunk(items) -> int:
    for src, dst, old, new in items:
        patch_return(src, dst, old, new)
    return len(items)


def make_patched(
    rows: list[dict[str, str]],
    work: Path,
    returns: Path,
    jobs: int,
    pool_per_category: int = 2,
    saved_by: str = "openpyxl",
) -> tuple[Path, list[dict[str, str]]]:
    """The fast way for large N: fill a pool faithfully, then copy it with new identities.

    The pool is ``pool_per_category`` applicants × 5 examiners for each of the six categories
    (60 files by default), made with :func:`make_filled`.  Roster row (applicant ``a``, panel
    position ``p``, category ``c``) becomes a copy of pool file (``c``, ``a`` mod pool size, ``p``)
    with applicant_id/name, examiner_id/name and a fresh issue_id patched into the _meta and
    cover sheets; the manifest gets the same values, so consolidation checks pass.
    """
    pool_rows = roster_rows(PANEL * len(AWARD_IDS) * pool_per_category, tag="P")
    _manifest, pool_manifest = make_filled(
        pool_rows, work / "pool", work / "pool" / "returns", jobs, saved_by=saved_by
    )
    pool = {}
    for m in pool_manifest:
        a = int(m["applicant_id"].rsplit("-", 1)[1])
        pos = [r for r in pool_manifest if r["applicant_id"] == m["applicant_id"]].index(m)
        pool[(m["award_category"], a // len(AWARD_IDS) % pool_per_category, pos)] = m
    returns.mkdir(parents=True, exist_ok=True)
    items, manifest_rows = [], []
    for i, r in enumerate(rows):
        a, pos = divmod(i, PANEL)
        src = pool[(r["award_category"], a // len(AWARD_IDS) % pool_per_category, pos)]
        new = dict(src)
        new.update({k: r[k] for k in ("applicant_id", "applicant_name", "examiner_id", "examiner_name")})
        new["applicant_kind"] = src["applicant_kind"]
        new["issue_id"] = uuid.uuid4().hex
        rel = scoresheet_path(_RowLike(new), YEAR)
        new["path"] = rel.as_posix()
        items.append((work / "pool" / "returns" / Path(src["path"]).name, returns / rel.name, src, new))
        manifest_rows.append(new)
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        done = sum(ex.map(_patch_chunk, _chunks(items, jobs * 4)))
    assert done == len(rows)
    return write_manifest(manifest_rows, work / "manifest.csv"), manifest_rows


class _RowLike:
    def __init__(self, m: dict[str, str]):
        self.applicant_id = m["applicant_id"]
        self.applicant_name = m["applicant_name"]
        self.award_category = m["award_category"]
        self.examiner_id = m["examiner_id"]
        self.examiner_name = m["examiner_name"]
        self.stage = m["stage"]


SAVED_BY = ("openpyxl", "libreoffice")
"""What saved the filled returns: openpyxl (as ``fill_scoresheet`` leaves them: inline strings, every
non-ASCII character a character reference) or LibreOffice Calc after it, as an examiner who opens the file
in Calc and saves it as .xlsx sends it (a shared-strings part, rich-text runs where Calc switched fonts,
every styled empty cell written)."""


def save_with_libreoffice(files: list[Path], jobs: int, attempts: int = 3) -> None:
    """Open each file in LibreOffice Calc and save it as .xlsx in its place (headless, ``jobs`` at once).

    Each process has its own profile, made first by a one-file run (a fresh profile's first start
    can drop the files it was given); files a run did not save are given to the next attempt."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise SystemExit("--saved-by libreoffice needs LibreOffice (soffice) on PATH")
    if not files:
        return
    scratch = files[0].parent.parent / "lo_scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    chunks = _chunks(files, jobs)

    def command(k: int, out: Path, chunk: list[Path]) -> list[str]:
        profile = (scratch / f"profile{k}").resolve().as_uri()  # one profile per process: they lock it
        return [
            soffice,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--calc",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(out),
            *map(str, chunk),
        ]

    warm = scratch / "warm"
    for k in range(len(chunks)):
        subprocess.run(command(k, warm, chunks[k][:1]), capture_output=True, check=False)
    todo = chunks
    for _ in range(attempts):
        procs = []
        for k, chunk in enumerate(todo):
            out = scratch / f"out{k}"
            out.mkdir(parents=True, exist_ok=True)
            popen = subprocess.Popen(
                command(k, out, chunk), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            procs.append((popen, out, chunk))
        todo = []
        for popen, out, chunk in procs:
            popen.wait()
            left = []
            for f in chunk:
                saved = out / f.name
                if saved.exists():
                    os.replace(saved, f)
                else:
                    left.append(f)
            todo.append(left)
        todo = [c for c in todo if c]
        if not todo:
            break
    if todo:
        missing = [f.name for c in todo for f in c]
        raise SystemExit(f"LibreOffice did not save {len(missing)} returns, e.g. {missing[0]}")
    shutil.rmtree(scratch)


def prepare_returns(
    n: int, work: Path, mode: str, jobs: int, reuse: bool, saved_by: str = "openpyxl"
) -> tuple[Path, Path, str]:
    """``work/returns`` holding ``n`` filled returns and ``work/manifest.csv``; reused when asked."""
    stamp = work / "DONE"
    want = f"n={n} mode={mode}" + (f" saved_by={saved_by}" if saved_by != "openpyxl" else "")
    if reuse and stamp.exists() and stamp.read_text() == want:
        return work / "returns", work / "manifest.csv", "reused"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    rows = roster_rows(n)
    t = time.perf_counter()
    if mode == "fill":
        manifest, _ = make_filled(rows, work, work / "returns", jobs, saved_by=saved_by)
    else:
        manifest, _ = make_patched(rows, work, work / "returns", jobs, saved_by=saved_by)
    took = time.perf_counter() - t
    stamp.write_text(want)
    return work / "returns", manifest, f"made in {took:.1f} s ({mode}, saved by {saved_by})"


# -- measuring -------------------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def run_child(cmd: list[str], log: Path) -> tuple[float, int, int]:
    """Run ``cmd``; wall seconds, exit code, and ru_maxrss (KiB) from wait4.

    On Linux the rusage wait4 returns covers the child and the descendants it waited for
    (maxrss is the largest single process of that tree, not their sum).
    """
    with log.open("wb") as fh:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        took = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    return took, p.returncode, ru.ru_maxrss


def machine() -> dict[str, str]:
    def sh(cmd: str) -> str:
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return "?"

    from importlib.metadata import version

    return {
        "nproc": sh("nproc"),
        "free -h": sh("free -h"),
        "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
        "python": platform.python_version(),
        "versions": ", ".join(f"{p} {version(p)}" for p in ("pandas", "openpyxl", "python-calamine")),
        "executable": sys.executable,
        "package": package_state(),
    }


def package_state() -> str:
    """Which package source was measured: newest mtime and a short hash of every szqa_xl/**/*.py."""
    import hashlib

    import szqa_xl

    files = sorted(Path(szqa_xl.__file__).parent.rglob("*.py"))
    h = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]
    newest = max(f.stat().st_mtime for f in files)
    return f"szqa_xl sources {h}, newest {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(newest))} UTC"


__all__ = [
    "AWARD_IDS",
    "YEAR",
    "builtin_standard",
    "category_mix",
    "fingerprint",
    "machine",
    "median",
    "prepare_returns",
    "roster_rows",
    "run_child",
    "timed",
    "write_roster",
]
