"""Consolidating a folder of returned scoresheets: read, reconcile, compute, write.

Files are read in worker processes so that a file which crashes a native reader
costs only that file: the batch always finishes, every file ends up merged or
rejected with a reason, and no input file is opened for writing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from . import grid
from .atomic import atomic_path
from .consolidate import (
    TIDY_COLUMNS,
    Thresholds,
    applicant_summary,
    empty_tidy,
    examiner_leniency,
    unit_stats,
)
from .generate import read_manifest
from .models import AWARD_IDS
from .problems import Problem
from .reader import ReturnFile, check_issue, read_return
from .standards import builtin_standard
from .textsafe import FORMULA_LEADS

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".et", ".csv"}
STATUS_ZH = {
    "accepted": "已接收",
    "incomplete": "已接收（未完成）",
    "rejected": "拒收",
    "duplicate": "重复",
    "missing": "未返回",
    "skipped": "已跳过",
}


@dataclass
class ReturnRecord:
    """One line of the returns sheet: a file received (or expected and missing)."""

    status: str
    file: str = ""
    issue_id: str = ""
    year: str = ""
    award_category: str = ""
    stage: str = ""
    applicant_id: str = ""
    applicant_name: str = ""
    examiner_id: str = ""
    examiner_name: str = ""
    problems: list[Problem] = field(default_factory=list)
    sha256: str = ""
    size: int = 0
    read_at: str = ""

    @property
    def reasons(self) -> str:
        return "\n".join(
            f"{p.sheet + '!' + p.cell + ' ' if p.sheet and p.cell else ''}{p.message}" for p in self.problems
        )


@dataclass
class Consolidation:
    tidy: pd.DataFrame
    stats: pd.DataFrame
    applicants: pd.DataFrame
    examiners: pd.DataFrame
    returns: list[ReturnRecord]
    thresholds: Thresholds
    returns_dir: str = ""
    created_at: str = ""

    def counts(self) -> Counter:
        return Counter(r.status for r in self.returns)

    def summary(self) -> str:
        c = self.counts()
        return (
            f"{c['accepted'] + c['incomplete']} merged ({c['incomplete']} incomplete), "
            f"{c['rejected']} rejected, {c['duplicate']} duplicate, {c['missing']} missing, "
            f"{c['skipped']} skipped; {len(self.applicants)} applicants, "
            f"{int(self.stats['flag'].sum()) if len(self.stats) else 0} units flagged"
        )


def find_returns(returns_dir: Path | str) -> tuple[list[Path], list[Path]]:
    """Spreadsheet files under the folder (sorted), and skipped lock/hidden files."""
    found, skipped = [], []
    for p in sorted(Path(returns_dir).rglob("*")):
        if not p.is_file() or p.suffix.lower() not in SPREADSHEET_SUFFIXES:
            continue
        if p.name.startswith(("~$", ".~lock", ".")):
            skipped.append(p)
        elif p.name == "manifest.csv":
            continue
        else:
            found.append(p)
    return found, skipped


def _safe_read(path: Path) -> ReturnFile:
    try:
        return read_return(path)
    except Exception as exc:  # a bug must not stop the batch; it is reported on the file
        rf = _crashed(path, f"读取时发生内部错误（{type(exc).__name__}: {exc}），请将此文件报告给维护者")
        return rf


def _crashed(path: Path, message: str) -> ReturnFile:
    size = path.stat().st_size if path.exists() else 0
    return ReturnFile(
        path=path,
        name=path.name,
        sha256="",
        size=size,
        read_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        problems=[Problem("reader-crash", message, path.name)],
    )


CHUNK = 16
"""Most files one worker task reads."""


def _read_chunk(paths: list[Path]) -> list[ReturnFile]:
    return [_safe_read(p) for p in paths]


def read_all(
    paths: list[Path], workers: int = 2, progress: Callable[[int, int], None] | None = None
) -> list[ReturnFile]:
    """Read every file in worker processes; a file that kills its worker is rejected, not fatal."""
    results: dict[Path, ReturnFile] = {}
    done = 0
    if workers <= 0:
        for p in paths:
            results[p] = _safe_read(p)
            done += 1
            if progress:
                progress(done, len(paths))
        return [results[p] for p in paths]
    for award in AWARD_IDS:  # parse the standards once, before the workers are forked
        builtin_standard(award)
    # Files travel in small chunks: fewer round trips than one task per file, while a
    # crash still loses only one chunk, whose files are then re-read one by one below.
    size = max(1, min(CHUNK, len(paths) // (workers * 4) or 1))
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    try:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            futures = {ex.submit(_read_chunk, chunk): chunk for chunk in chunks}
            for fut in as_completed(futures):
                for p, rf in zip(futures[fut], fut.result(), strict=True):
                    results[p] = rf
                done += len(futures[fut])
                if progress:
                    progress(done, len(paths))
    except BrokenProcessPool:
        pass
    for p in paths:  # what a crash left unread: one isolated process per file
        if p in results:
            continue
        try:
            with ProcessPoolExecutor(max_workers=1) as ex:
                results[p] = ex.submit(_safe_read, p).result()
        except BrokenProcessPool:
            results[p] = _crashed(p, "文件导致读取程序崩溃（文件已损坏或被恶意构造），已拒收")
        done += 1
        if progress:
            progress(done, len(paths))
    return [results[p] for p in paths]


IDENTITY_FIELDS = (
    "issue_id",
    "year",
    "award_category",
    "stage",
    "applicant_id",
    "applicant_name",
    "examiner_id",
    "examiner_name",
)
"""Who and what a file is for, as named in the metadata sheet and in the manifest alike."""


def _identity(source: dict[str, str]) -> dict[str, str]:
    return {key: source.get(key, "") for key in IDENTITY_FIELDS}


def _record(rf: ReturnFile, status: str | None = None) -> ReturnRecord:
    return ReturnRecord(
        status=status or rf.status,
        file=str(rf.path),
        **_identity(rf.meta),
        problems=list(rf.problems),
        sha256=rf.sha256,
        size=rf.size,
        read_at=rf.read_at,
    )


def _tidy_rows(rf: ReturnFile, rel: str) -> list[dict]:
    std = builtin_standard(rf.award_category)
    m = rf.meta
    rows = []
    for unit in std.units():
        u = rf.units[unit.code]
        idx = grid.band_index(std, unit.kind, u.band) if u.band else None
        pct = u.pct if u.status == grid.STATUS_OK else None
        rows.append(
            {
                "year": int(m["year"]) if m.get("year", "").isdigit() else m.get("year"),
                "award_category": std.id,
                "stage": m.get("stage", ""),
                "applicant_id": m.get("applicant_id", ""),
                "applicant_name": m.get("applicant_name", ""),
                "examiner_id": m.get("examiner_id", ""),
                "examiner_name": m.get("examiner_name", ""),
                "unit": unit.code,
                "kind": unit.kind,
                "unit_points": unit.points,
                "band": u.band if pct is not None else None,
                "band_index": idx if pct is not None else None,
                "pct": pct,
                "points": grid.unit_score(unit.points, pct) if pct is not None else None,
                "strengths": u.strengths,
                "ofi": u.ofi,
                "evidence": u.evidence,
                "issue_id": m.get("issue_id", ""),
                "file": rel,
            }
        )
    return rows


def consolidate_dir(
    returns_dir: Path | str,
    manifest: Path | str | None = None,
    year: int | None = None,
    thresholds: Thresholds = Thresholds(),
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> Consolidation:
    """Read, validate and reconcile every return under ``returns_dir``; compute the statistics."""
    returns_dir = Path(returns_dir)
    paths, skipped = find_returns(returns_dir)
    files = read_all(paths, workers=workers, progress=progress)
    issued = {r["issue_id"]: r for r in read_manifest(manifest)} if manifest else None

    readable = [rf for rf in files if rf.meta.get("year")]
    if year is None:
        years = (
            Counter(r["year"] for r in issued.values())
            if issued
            else Counter(rf.meta["year"] for rf in readable)
        )
        year_s = years.most_common(1)[0][0] if years else None
    else:
        year_s = str(year)

    records: list[ReturnRecord] = []
    merged: list[ReturnFile] = []
    seen_issue: dict[str, str] = {}
    seen_key: dict[tuple, str] = {}
    for rf in files:
        rel = (
            rf.path.relative_to(returns_dir).as_posix()
            if rf.path.is_relative_to(returns_dir)
            else str(rf.path)
        )
        check_issue(rf, year_s, issued)
        record = _record(rf)
        record.file = rel
        if rf.status != "rejected":
            iid = rf.meta.get("issue_id", "")
            key = rf.key()
            first = seen_issue.get(iid) if iid != "BLANK" else None
            first = first or seen_key.get(key)
            if first is not None:
                record.status = "duplicate"
                record.problems.append(
                    Problem(
                        "duplicate",
                        f"与已接收的 {first} 重复（同一发放编号或同一评审员对同一申报方），未合并",
                        rf.name,
                    )
                )
            else:
                seen_issue[iid] = rel
                seen_key[key] = rel
                merged.append(rf)
        records.append(record)
    for p in skipped:
        records.append(
            ReturnRecord(
                status="skipped",
                file=p.relative_to(returns_dir).as_posix(),
                problems=[Problem("lock-file", "Office/WPS 临时锁定文件或隐藏文件，已跳过", p.name)],
            )
        )
    if issued is not None:
        received = {
            r.issue_id for r in records if r.status in ("accepted", "incomplete", "rejected", "duplicate")
        }
        for iid, rec in issued.items():
            if iid not in received:
                records.append(
                    ReturnRecord(
                        status="missing",
                        **_identity(rec),
                        file=rec.get("path", ""),
                        problems=[Problem("missing", "已发放，未收到返回文件", rec.get("path", ""))],
                    )
                )

    rows = []
    for rf in merged:
        rel = (
            rf.path.relative_to(returns_dir).as_posix()
            if rf.path.is_relative_to(returns_dir)
            else str(rf.path)
        )
        rows.extend(_tidy_rows(rf, rel))
    tidy = pd.DataFrame(rows, columns=TIDY_COLUMNS) if rows else empty_tidy()
    if not tidy.empty:
        tidy = tidy.sort_values(
            ["year", "award_category", "stage", "applicant_id", "examiner_id", "unit"],
            kind="stable",
            key=lambda s: s.map(_unit_sort_key) if s.name == "unit" else s,
        )
        tidy = tidy.reset_index(drop=True)
    stats = unit_stats(tidy, thresholds)
    return Consolidation(
        tidy=tidy,
        stats=stats,
        applicants=applicant_summary(tidy, stats),
        examiners=examiner_leniency(tidy, stats),
        returns=records,
        thresholds=thresholds,
        returns_dir=str(returns_dir),
        created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
    )


def _unit_sort_key(code: str) -> tuple[int, ...]:
    return tuple(int(x) for x in str(code).split("."))


SCORES_CSV_COLUMNS = [c for c in TIDY_COLUMNS if c != "band_index"]
"""scores.csv: the tidy frame without the internal band index."""


def scores_csv(tidy: pd.DataFrame) -> str:
    """The tidy frame as CSV text, every text cell neutralised against formula injection."""
    out = {}
    for name in SCORES_CSV_COLUMNS:
        col = tidy[name]
        if pd.api.types.is_float_dtype(col):
            out[name] = col  # written with %g, blank when missing
            continue
        text = col.astype(str)
        text = text.mask(text.str.startswith(FORMULA_LEADS), "'" + text)
        out[name] = text.mask(col.isna(), "")
    # CRLF, so a CR inside a field is quoted too
    return pd.DataFrame(out).to_csv(index=False, lineterminator="\r\n", float_format="%g", na_rep="")


def write_outputs(cons: Consolidation, out_dir: Path | str, force: bool = False) -> dict[str, Path]:
    """Write consolidated.xlsx and scores.csv atomically; refuse to overwrite without ``force``."""
    from .report import plan_consolidated
    from .writer import write

    out_dir = Path(out_dir)
    targets = {"workbook": out_dir / "consolidated.xlsx", "csv": out_dir / "scores.csv"}
    existing = [p for p in targets.values() if p.exists()]
    if existing and not force:
        raise FileExistsError(", ".join(str(p) for p in existing))
    # Both appear together or not at all: each is finished under a temporary name first.
    plan = plan_consolidated(cons)
    with atomic_path(targets["csv"]) as tmp_csv, atomic_path(targets["workbook"]) as tmp_wb:
        tmp_csv.write_bytes(scores_csv(cons.tidy).encode("utf-8-sig"))
        write(plan, tmp_wb)
    return targets
