"""Consolidating a folder of returned scoresheets: read, reconcile, compute, write.

Files are read in worker processes so that a file which crashes a native reader
costs only that file: the batch always finishes, every file ends up merged or
rejected with a reason, and no input file is opened for writing.
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import tempfile
import weakref
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, cached_property, partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from szqa_xl.consolidation.core import (
    GROUP as GROUP_COLUMNS,
)
from szqa_xl.consolidation.core import (
    TIDY_COLUMNS,
    Thresholds,
    applicant_summary,
    empty_tidy,
    examiner_leniency,
    rows_by_key,
    unit_stats,
)
from szqa_xl.problems import Problem
from szqa_xl.returns.isolation import DEFAULT_TIME_LIMIT, read_bounded
from szqa_xl.returns.reader import ReturnFile, check_issue, template_facts
from szqa_xl.scoresheet.generate import read_manifest
from szqa_xl.standards import grid
from szqa_xl.standards.load import builtin_standard
from szqa_xl.standards.models import AWARD_IDS
from szqa_xl.xlsx.atomic import atomic_path
from szqa_xl.xlsx.forking import run_shared
from szqa_xl.xlsx.textsafe import FORMULA_LEADS

T = TypeVar("T")

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".et", ".csv"}
STATUS_ZH = {
    "accepted": "已接收",
    "incomplete": "已接收（未完成）",
    "rejected": "拒收",
    "duplicate": "重复",
    "missing": "未返回",
    "skipped": "已跳过",
}


@dataclass(slots=True)
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
    applicant_kind: str = ""
    industry: str = ""
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


COMMENT_FIELDS = ("strengths", "ofi", "evidence")
SCORE_COLUMNS = [c for c in TIDY_COLUMNS if c not in COMMENT_FIELDS] + ["file_no"]
"""Columns of ``Consolidation.scores``: the tidy columns without the comment texts, plus the
number of the file (in reading order) that keys its comments in the :class:`CommentStore`."""


class CommentStore:
    """Examiners' strengths, OFIs and evidence per (file, unit), in a private temporary SQLite database.

    The comment texts are the bulk of a consolidation's data; kept out of memory
    they do not make memory grow with the number of returns.  The database is a
    file in a private temporary folder, removed when the store is collected (or
    at exit).  Each process uses its own connection (a SQLite connection must not
    cross a fork), so a forked writer helper can read the comments too; every
    ``add`` is committed, so what it reads is complete.
    """

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="szqa-comments-")
        self._path = Path(self._dir) / "comments.sqlite"
        self._pid = os.getpid()
        self._db = sqlite3.connect(self._path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")  # scratch data: no journal, no fsync
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE c (file INTEGER, unit TEXT, strengths TEXT, ofi TEXT, evidence TEXT,"
            " PRIMARY KEY (file, unit)) WITHOUT ROWID"
        )
        weakref.finalize(self, _drop_store, self._db, self._dir, self._pid)  # also keeps this
        # connection open in a forked copy, which opens its own instead (see _conn)

    def _conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:  # in a forked process: a connection of its own, read-only
            self._db = sqlite3.connect(f"{self._path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
            self._pid = os.getpid()
        return self._db

    def add(self, file_no: int, rows: list[tuple[str, str, str, str]]) -> None:
        """(unit, strengths, ofi, evidence) of one file; units without any text need not be added."""
        with self._conn() as db:  # committed: visible to other processes' connections
            db.executemany("INSERT INTO c VALUES (?, ?, ?, ?, ?)", [(file_no, *r) for r in rows])

    def of_files(self, file_nos) -> dict[tuple[int, str], tuple[str, str, str]]:
        """(file, unit) -> (strengths, ofi, evidence) of the given files."""
        wanted = sorted({int(f) for f in file_nos})
        out: dict[tuple[int, str], tuple[str, str, str]] = {}
        db = self._conn()
        for i in range(0, len(wanted), 500):  # within SQLite's limit on bound parameters
            chunk = wanted[i : i + 500]
            query = f"SELECT * FROM c WHERE file IN ({','.join('?' * len(chunk))})"
            for f, unit, *texts in db.execute(query, chunk):
                out[(f, unit)] = tuple(texts)
        return out


def _drop_store(db: sqlite3.Connection, folder: str, owner: int) -> None:
    if os.getpid() != owner:  # a forked copy of the store: the database is not its to remove
        return
    db.close()
    shutil.rmtree(folder, ignore_errors=True)


def with_comments(scores: pd.DataFrame, store: CommentStore) -> pd.DataFrame:
    """Rows of ``Consolidation.scores`` as tidy rows: the comment texts joined, in TIDY_COLUMNS order."""
    texts = store.of_files(scores["file_no"]) if len(scores) else {}
    keys = zip(scores["file_no"], scores["unit"], strict=True)
    found = [texts.get((int(f), u), ("", "", "")) for f, u in keys]
    out = scores.drop(columns=["file_no"])
    for name in out.columns:  # the public frame has plain columns; categories are an internal economy
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            out[name] = out[name].astype(out[name].cat.categories.dtype)
    for j, name in enumerate(COMMENT_FIELDS):
        out[name] = pd.Series([t[j] for t in found], index=scores.index, dtype=object) if found else ""
    return out[TIDY_COLUMNS] if len(out) else empty_tidy()


@dataclass
class Consolidation:
    scores: pd.DataFrame
    comments: CommentStore
    stats: pd.DataFrame
    applicants: pd.DataFrame
    examiners: pd.DataFrame
    returns: list[ReturnRecord]
    thresholds: Thresholds
    returns_dir: str = ""
    created_at: str = ""
    agreement: pd.DataFrame | None = None  # per applicant: ICC(2,1), ICC(2,k), alpha, Koo & Li reading
    category_agreement: pd.DataFrame | None = None  # per award category and stage (see panel_agreement)

    @cached_property
    def score_rows(self) -> dict[tuple[str, ...], np.ndarray]:
        """Applicant key (as text) -> the positions of its rows in ``scores`` (see ``core.rows_by_key``);
        taken once for the consolidated workbook and the panel workbooks alike."""
        return rows_by_key(self.scores)

    @cached_property
    def stat_rows(self) -> dict[tuple[str, ...], np.ndarray]:
        """Applicant key (as text) -> the positions of its rows in ``stats``."""
        return rows_by_key(self.stats)

    @property
    def tidy(self) -> pd.DataFrame:
        """The tidy long frame, one row per (merged file, unit), comments included: scores.csv as a DataFrame.

        Built on request from ``scores`` and the comment store (the consolidation itself
        never holds every comment in memory at once).
        """
        return with_comments(self.scores, self.comments)

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


def read_all(
    paths: list[Path],
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> list[ReturnFile]:
    """Read every file, each in a worker under a time and memory limit (see ``returns.isolation``)."""
    results: list[ReturnFile | None] = [None] * len(paths)
    for i, rf in iter_read(paths, workers, progress, time_limit):
        results[i] = rf
    return results  # type: ignore[return-value]


def iter_read(
    paths: list[Path],
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> Iterator[tuple[int, ReturnFile]]:
    """(index in ``paths``, result) of every file, in the order they are finished.

    Files are always read in worker processes (``workers`` at once, at least
    one), so a file that runs too long, needs too much memory or kills its
    worker is rejected, never fatal.  Results are handed over as they arrive.
    """
    for award in AWARD_IDS:  # parse the standards and templates once, before the workers are forked
        template_facts(award, False)
        template_facts(award, True)
    yield from read_bounded(paths, workers=max(1, workers), time_limit=time_limit, progress=progress)


IDENTITY_FIELDS = (
    "issue_id",
    "year",
    "award_category",
    "stage",
    "applicant_id",
    "applicant_name",
    "applicant_kind",
    "examiner_id",
    "examiner_name",
    "industry",
)
"""Who and what a file is for, as named in the metadata sheet and in the manifest alike."""


def _identity(source: dict[str, str]) -> dict[str, str]:
    return {key: source.get(key, "") for key in IDENTITY_FIELDS}


def _issued_by_stem(issued: dict[str, dict[str, str]] | None) -> dict[str, dict[str, str]]:
    """Issued entries by the name their file was issued under, without its extension (unique names only)."""
    found: dict[str, list[dict[str, str]]] = {}
    for rec in (issued or {}).values():
        if rec.get("path"):
            found.setdefault(Path(rec["path"]).stem.casefold(), []).append(rec)
    return {stem: recs[0] for stem, recs in found.items() if len(recs) == 1}


def _match_by_name(record: ReturnRecord, path: Path, by_stem: dict[str, dict[str, str]]) -> None:
    """A file refused before its metadata could be read (an .ods or .xls save, a password, a renamed
    sheet) is still the return of the scoresheet issued under its name: say whose it is, so the
    examiner is not chased for a file they did send."""
    rec = by_stem.get(path.stem.casefold())
    if rec is None:
        return
    for key, value in _identity(rec).items():
        setattr(record, key, value)
    record.problems.append(
        Problem(
            "matched-by-name",
            f"文件内容无法读出身份信息，按文件名对应到发放编号 {rec['issue_id']}（{rec.get('examiner_name', '')}）；"
            "请该评审员按上述原因修正后重新发送",
            path.name,
            severity="warning",
        )
    )


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


@dataclass(frozen=True, slots=True)
class _FileScores:
    """A merged file's scores, compact: band labels (shared strings) and percentages (NaN when not
    scored), in the standard's unit order; an unfinished unit counts as unscored."""

    bands: tuple[str | None, ...]
    pcts: array


def _slim(rf: ReturnFile, file_no: int, store: CommentStore, strings: dict[str, str]) -> _FileScores:
    """Reduce ``rf`` to what consolidation keeps of a file in memory (identity and problems) and
    return its scores in compact form.

    The comments go to ``store``; repeated strings (names, ids, band labels) are
    shared through ``strings`` so thousands of returns hold each only once.
    """
    store.add(
        file_no,
        [
            (code, u.strengths, u.ofi, u.evidence)
            for code, u in rf.units.items()
            if u.strengths or u.ofi or u.evidence
        ],
    )
    rf.meta = {k: strings.setdefault(v, v) for k in IDENTITY_FIELDS if (v := rf.meta.get(k)) is not None}
    rf.read_at = strings.setdefault(rf.read_at, rf.read_at)  # to the second: the same for many files
    ok = [u.status == grid.STATUS_OK for u in rf.units.values()]
    scores = _FileScores(
        tuple(
            strings.setdefault(u.band, u.band) if u.band else None  # a band without its % is kept
            for u in rf.units.values()
        ),
        array(
            "d",
            (
                u.pct if k and u.pct is not None else math.nan
                for u, k in zip(rf.units.values(), ok, strict=True)
            ),
        ),
    )
    rf.units = {}
    return scores


@cache
def _unit_order(award: str) -> tuple[list[int], list]:
    """Positions of the standard's units in scores order (by code, numerically), and the units so ordered."""
    units = builtin_standard(award).units()
    order = sorted(range(len(units)), key=lambda i: _unit_sort_key(units[i].code))
    return order, [units[i] for i in order]


def _file_sort_key(meta: dict[str, str]) -> tuple:
    year = meta.get("year", "")
    return (
        (0, int(year), "") if year.isdigit() else (1, 0, year),
        meta.get("award_category", ""),
        meta.get("stage", ""),
        meta.get("applicant_id", ""),
        meta.get("examiner_id", ""),
    )


def _scores_frame(merged: list[tuple[int, dict[str, str], _FileScores, str]]) -> pd.DataFrame:
    """One row per (merged file, unit), sorted by year, award, stage, applicant, examiner, unit.

    Built column by column: text that repeats (ids, names, units, bands) becomes
    categorical codes, numbers typed arrays (a unit's points int16, file numbers
    int32), so a large batch costs bytes per row, not a Python object per cell.
    """
    if not merged:
        return empty_tidy().drop(columns=list(COMMENT_FIELDS)).assign(file_no=pd.Series(dtype="int32"))
    merged = sorted(merged, key=lambda t: _file_sort_key(t[1]))
    meta_cols = ["award_category", "stage", "applicant_id", "applicant_name", "examiner_id", "examiner_name"]
    per_file: dict[str, list] = {c: [] for c in [*meta_cols, "issue_id", "file", "year", "file_no"]}
    counts: list[int] = []
    unit, kind, points_of, band, band_index, pct = [], [], [], [], array("d"), array("d")
    for file_no, meta, sc, rel in merged:
        award = meta["award_category"]
        std = builtin_standard(award)
        order, units = _unit_order(award)
        for c in meta_cols:
            per_file[c].append(meta.get(c, ""))
        per_file["issue_id"].append(meta.get("issue_id", ""))
        per_file["file"].append(rel)
        year = meta.get("year", "")
        per_file["year"].append(int(year) if year.isdigit() else year)
        per_file["file_no"].append(file_no)
        counts.append(len(units))
        for i, u in zip(order, units, strict=True):
            b = sc.bands[i]
            unit.append(u.code)
            kind.append(u.kind)
            points_of.append(u.points)
            band.append(b)
            idx = grid.band_index(std, u.kind, b) if b else None
            band_index.append(math.nan if idx is None else idx)
            pct.append(sc.pcts[i])
    rows = np.repeat(np.arange(len(merged)), counts)

    def repeated(values: list) -> pd.Categorical:
        return pd.Categorical(values).take(rows)  # type: ignore[return-value]

    frame = {c: repeated(per_file[c]) for c in meta_cols}
    years = pd.Series(per_file["year"]).infer_objects()
    frame["year"] = years.to_numpy()[rows]
    frame["unit"] = pd.Categorical(unit)
    frame["kind"] = pd.Categorical(kind)
    frame["unit_points"] = np.asarray(points_of, dtype="int16")  # a unit's points: at most 500
    frame["band"] = pd.Categorical(band)
    frame["band_index"] = np.frombuffer(band_index, dtype="float64")
    pct_a = np.frombuffer(pct, dtype="float64")
    frame["pct"] = pct_a
    frame["points"] = frame["unit_points"] * pct_a / 100
    frame["issue_id"] = repeated(per_file["issue_id"])
    frame["file"] = repeated(per_file["file"])
    frame["file_no"] = np.asarray(per_file["file_no"], dtype="int32")[rows]
    return pd.DataFrame(frame)[SCORE_COLUMNS]


def consolidate_dir(
    returns_dir: Path | str,
    manifest: Path | str | None = None,
    year: int | None = None,
    thresholds: Thresholds = Thresholds(),
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> Consolidation:
    """Read, validate and reconcile every return under ``returns_dir``; compute the statistics.

    Each file is read in a worker under ``time_limit`` seconds (see ``returns.isolation``)."""
    returns_dir = Path(returns_dir)
    paths, skipped = find_returns(returns_dir)
    store = CommentStore()
    strings: dict[str, str] = {}
    files: list[ReturnFile] = [None] * len(paths)  # type: ignore[list-item]
    file_scores: list[_FileScores | None] = [None] * len(paths)
    for i, rf in iter_read(paths, workers=workers, progress=progress, time_limit=time_limit):
        file_scores[i] = _slim(rf, i, store, strings)
        files[i] = rf
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

    by_stem = _issued_by_stem(issued)
    records: list[ReturnRecord] = []
    merged: list[tuple[int, dict[str, str], _FileScores, str]] = []
    seen_issue: dict[str, str] = {}
    seen_key: dict[tuple, str] = {}
    for file_no, rf in enumerate(files):
        rel = (
            rf.path.relative_to(returns_dir).as_posix()
            if rf.path.is_relative_to(returns_dir)
            else str(rf.path)
        )
        check_issue(rf, year_s, issued)
        record = _record(rf)
        record.file = rel
        if rf.status == "rejected" and not record.issue_id:
            _match_by_name(record, rf.path, by_stem)
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
                merged.append((file_no, rf.meta, file_scores[file_no], rel))
        records.append(record)
        # the record and the merged scores are all that is kept
        files[file_no], file_scores[file_no] = None, None  # type: ignore[call-overload]
    del files, file_scores
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

    scores = _scores_frame(merged)
    stats = unit_stats(scores, thresholds)
    agreement, category_agreement = panel_agreement(scores)
    return Consolidation(
        scores=scores,
        comments=store,
        stats=stats,
        applicants=applicant_summary(scores, stats),
        examiners=examiner_leniency(scores, stats),
        returns=records,
        thresholds=thresholds,
        returns_dir=str(returns_dir),
        created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        agreement=agreement,
        category_agreement=category_agreement,
    )


def panel_agreement(scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Agreement within each panel (units × its examiners), and per award category and stage.

    Per category the panels differ, so there is no one matrix of raters: the category's
    ICC(2,1) is the median of its panels' (with their range), and Krippendorff's alpha is
    computed over every (applicant, unit) with the examiners as raters (alpha needs no
    complete rows)."""
    from szqa_xl.consolidation.agreement import agreement_table, koo_li

    if not len(scores):
        return pd.DataFrame(), pd.DataFrame()
    frame = scores[[*GROUP_COLUMNS, "unit", "examiner_id", "pct"]].astype({"unit": str, "examiner_id": str})
    frame = frame.assign(year=frame["year"].astype(str))
    # point values only: the consolidated workbook shows no intervals (results do, per panel)
    per = agreement_table(frame, GROUP_COLUMNS, intervals=False)
    pooled = agreement_table(frame, GROUP_COLUMNS[:3], target=["applicant_id", "unit"], intervals=False)
    rows = []
    for key, g in per.groupby(GROUP_COLUMNS[:3], sort=False):
        values = g["icc21"].dropna()
        median = float(values.median()) if len(values) else None
        alpha = pooled
        for col, v in zip(GROUP_COLUMNS[:3], key, strict=True):
            alpha = alpha[alpha[col] == v]
        rows.append(
            {
                **dict(zip(GROUP_COLUMNS[:3], key, strict=True)),
                "panels": len(g),
                "icc21_median": median,
                "icc21_min": float(values.min()) if len(values) else None,
                "icc21_max": float(values.max()) if len(values) else None,
                "alpha": float(alpha["alpha"].iloc[0])
                if len(alpha) and pd.notna(alpha["alpha"].iloc[0])
                else None,
                "reading_zh": koo_li(median)[1],
            }
        )
    return per, pd.DataFrame(rows)


def _unit_sort_key(code: str) -> tuple[int, ...]:
    return tuple(int(x) for x in str(code).split("."))


SCORES_CSV_COLUMNS = [c for c in TIDY_COLUMNS if c != "band_index"]
"""scores.csv: the tidy frame without the internal band index."""


def scores_csv(tidy: pd.DataFrame, header: bool = True) -> str:
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
    return pd.DataFrame(out).to_csv(
        index=False, header=header, lineterminator="\r\n", float_format="%g", na_rep=""
    )


CSV_ROWS_PER_CHUNK = 5_000


def write_scores_csv(cons: Consolidation, path: Path, rows_per_chunk: int = CSV_ROWS_PER_CHUNK) -> None:
    """scores.csv (UTF-8 with BOM, for Excel), written a chunk of rows at a time: equal to
    ``scores_csv(cons.tidy)`` without ever building the whole tidy frame."""
    with open(path, "wb") as f:
        f.write("\ufeff".encode())
        if cons.scores.empty:
            f.write(scores_csv(cons.tidy).encode())
        for a in range(0, len(cons.scores), rows_per_chunk):
            chunk = with_comments(cons.scores.iloc[a : a + rows_per_chunk], cons.comments)
            f.write(scores_csv(chunk, header=a == 0).encode())


def write_outputs(
    cons: Consolidation, out_dir: Path | str, force: bool = False, workers: int = 2
) -> dict[str, Path]:
    """Write consolidated.xlsx and scores.csv atomically; refuse to overwrite without ``force``.

    With ``workers`` > 1 the CSV is written by a forked helper while this process writes the workbook.
    """
    return write_outputs_with(cons, out_dir, (), force=force, workers=workers)[0]


def output_targets(out_dir: Path | str, force: bool) -> dict[str, Path]:
    """Where write_outputs writes; FileExistsError if one is there and not ``force``."""
    out_dir = Path(out_dir)
    targets = {"workbook": out_dir / "consolidated.xlsx", "csv": out_dir / "scores.csv"}
    existing = [p for p in targets.values() if p.exists()]
    if existing and not force:
        raise FileExistsError(", ".join(str(p) for p in existing))
    return targets


def write_outputs_with(
    cons: Consolidation,
    out_dir: Path | str,
    jobs: Sequence[Callable[[], T]],
    force: bool = False,
    workers: int = 2,
) -> tuple[dict[str, Path], list[T]]:
    """write_outputs, and other independent ``jobs`` of the same consolidation (callables without
    arguments, such as the panel workbooks) done alongside it: the targets, and each job's result.

    The workbook is one job for this process; ``workers`` - 1 forked helpers write
    scores.csv and then take ``jobs`` in order, and this process joins them once
    the workbook is written (``xlsx.forking.run_shared``).
    """
    from szqa_xl.consolidation.report import plan_consolidated
    from szqa_xl.xlsx.writer import room_for_open_files, write

    targets = output_targets(out_dir, force)
    # Both appear together or not at all: each is finished under a temporary name first.
    plan = plan_consolidated(cons)
    if plan.large:  # before any helper starts writing (OpenFilesLimit: nothing written)
        room_for_open_files(len(plan.sheets))
    with atomic_path(targets["csv"]) as tmp_csv, atomic_path(targets["workbook"]) as tmp_wb:
        results = run_shared(
            [partial(write_scores_csv, cons, tmp_csv), *jobs], workers - 1, first=partial(write, plan, tmp_wb)
        )
    return targets, results[1:]
