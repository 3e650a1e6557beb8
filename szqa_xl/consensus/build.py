"""The panel workbooks of a consolidation: one per applicant, written beside consolidated.xlsx.

A panel workbook that its panel has edited is never overwritten.  Whether it was
edited is read from the file itself (its inputs against the values it was built
with, which the index keeps), not from a timestamp.  When a late return changes
the statistics of an edited panel, the updated workbook is written beside it
under another name, with the panel's decisions carried over, and the panel is
reported as affected.

The index (``共识索引.jsonl``) is the secretariat's record of what was built: per
workbook the applicant, the consolidation, the returns behind it, and every
locked and input cell as built.  ``finalize`` checks returned workbooks against it.
It is JSON Lines: the first line says which consolidation wrote it and which
workbook is current for each applicant, every further line is one workbook's
entry.  Each workbook's entry is encoded by the process that wrote the workbook
and appended to a scratch file of that process; the index is then put together
from those lines and the earlier index's lines of the workbooks kept, neither
ever held as objects (at 10,000 returns the entries as objects, and the index as
one JSON text, took ~170 MiB).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import pandas as pd

from szqa_xl.consensus.layout import PanelInput, PanelPlan, plan_panel
from szqa_xl.consolidation.batch import CommentStore, Consolidation, output_targets, write_outputs_with
from szqa_xl.consolidation.core import GroupRows
from szqa_xl.standards.load import builtin_standard
from szqa_xl.xlsx.atomic import atomic_path
from szqa_xl.xlsx.forking import run_shared

INDEX_NAME = "共识索引.jsonl"
FOLDER_NAME = "consensus"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def consolidation_id(cons: Consolidation) -> str:
    """Names the set of returns merged: the SHA-256 over their issue ids and contents."""
    return _digest(
        (rec.issue_id, rec.sha256) for rec in cons.returns if rec.status in ("accepted", "incomplete")
    )


def panel_id(key: tuple[str, ...], built_from: tuple[tuple[str, str], ...]) -> str:
    """Names what one panel workbook was built from: its applicant and the returns behind it.  A late
    return changes it; a late return for another applicant does not."""
    return _digest([("key", "|".join(key)), *built_from])


def _digest(pairs) -> str:
    h = hashlib.sha256()
    for a, b in sorted(pairs):
        h.update(f"{a}:{b}\n".encode())
    return h.hexdigest()[:16]


def key_text(key: tuple[str, ...]) -> str:
    return "|".join(key)


def panel_filename(pi: PanelInput) -> str:
    std = builtin_standard(pi.award_category)
    name = _UNSAFE.sub(
        "_", f"共识表_{pi.year}_{std.name_zh}_{pi.stage}_{pi.applicant_id}_{pi.applicant_name}"
    )
    return name[:150].rstrip(". ") + ".xlsx"


def _num(v) -> float | None:
    if v is None or v is pd.NA:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


PanelFiles = tuple[tuple[int, str], ...]
"""(file number in the store, examiner id) of each return behind one panel workbook."""


def panel_sources(cons: Consolidation) -> tuple[list[tuple[PanelInput, PanelFiles]], PanelScores]:
    """Each applicant's PanelInput (applicants in the order their first row comes in the scores)
    without its scores and statistics nor its examiners' comments, and the returns they are in; and
    where the scores and statistics are taken from (:func:`with_panel_scores`).

    The scores, statistics and comments are the bulk of a panel's data; they stay in the
    consolidation's frames and comment store until the panel's workbook is written
    (:func:`with_panel_scores`, :func:`with_panel_comments`), so the memory this takes does not grow
    with every applicant's scores at once (at 10,000 returns those of all the panels, as dicts, held
    ~20 MiB for as long as the workbooks were being written).
    """
    scores = PanelScores(cons)
    out: list[tuple[PanelInput, PanelFiles]] = []
    if not len(cons.scores):
        return out, scores
    kinds: dict[tuple, str] = {}
    industries: dict[tuple, str] = {}
    built: dict[tuple, list[tuple[str, str]]] = {}
    for rec in cons.returns:
        if rec.status in ("accepted", "incomplete"):
            key = (rec.year, rec.award_category, rec.stage, rec.applicant_id)
            kinds.setdefault(key, rec.applicant_kind or "organisation")
            industries.setdefault(key, rec.industry)
            built.setdefault(key, []).append((rec.issue_id, rec.sha256))
    who = GroupRows(cons.scores, ["applicant_name", "examiner_id", "examiner_name", "file_no"])
    for key, index in scores.score_rows.items():
        rows = who.rows(index)
        examiners: dict[str, str] = {}
        files: dict[int, str] = {}
        for e, en, f in zip(rows["examiner_id"], rows["examiner_name"], rows["file_no"], strict=True):
            examiners.setdefault(str(e), str(en))
            files.setdefault(int(f), str(e))
        behind = tuple(sorted(built.get(key, [])))
        pi = PanelInput(
            year=key[0],
            award_category=key[1],
            stage=key[2],
            applicant_id=key[3],
            applicant_name=str(rows["applicant_name"][0]),
            applicant_kind=kinds.get(key, "organisation"),
            industry=industries.get(key, ""),
            examiners=tuple(sorted(examiners.items())),
            pcts={},
            medians={},
            range_points={},
            spread_bands={},
            flags={},
            comments={},
            built_from=behind,
            consolidation_id=panel_id(key, behind),
        )
        out.append((pi, tuple(files.items())))
    return out, scores


class PanelScores:
    """Where each applicant's scores and unit statistics are taken from, one applicant at a time:
    the rows of each applicant (its key as text) in the consolidation's scores and statistics."""

    def __init__(self, cons: Consolidation) -> None:
        self.score_rows = cons.score_rows
        self.stat_rows = cons.stat_rows
        self._scores = GroupRows(cons.scores, ["unit", "examiner_id", "pct"]) if len(cons.scores) else None
        stat_fields = ["unit", "median", "range_points", "spread_bands", "flag"]
        self._stats = GroupRows(cons.stats, stat_fields) if len(cons.stats) else None

    def of(self, key: tuple[str, ...]) -> dict[str, dict]:
        """The applicant's ``pcts``, ``medians``, ``range_points``, ``spread_bands`` and ``flags``."""
        pcts: dict[tuple[str, str], float | None] = {}
        index = self.score_rows.get(key)
        if index is not None and self._scores is not None:
            rows = self._scores.rows(index)
            for u, e, p in zip(rows["unit"], rows["examiner_id"], rows["pct"], strict=True):
                pcts[(str(u), str(e))] = _num(p)
        medians: dict[str, float | None] = {}
        ranges: dict[str, float | None] = {}
        spreads: dict[str, float | None] = {}
        flags: dict[str, bool] = {}
        index = self.stat_rows.get(key)
        if index is not None and self._stats is not None:
            rows = self._stats.rows(index)
            for unit, median, range_points, spread, flag in zip(*rows.values(), strict=True):
                medians[unit] = _num(median)
                ranges[unit] = _num(range_points)
                spreads[unit] = _num(spread)
                flags[unit] = bool(flag) if flag is not pd.NA else False
        return {
            "pcts": pcts,
            "medians": medians,
            "range_points": ranges,
            "spread_bands": spreads,
            "flags": flags,
        }


def with_panel_scores(pi: PanelInput, scores: PanelScores) -> PanelInput:
    """``pi`` with its applicant's scores and unit statistics (see :func:`panel_sources`)."""
    return replace(pi, **scores.of((pi.year, pi.award_category, pi.stage, pi.applicant_id)))


def with_panel_comments(pi: PanelInput, store: CommentStore, files: PanelFiles) -> PanelInput:
    """``pi`` with the strengths and OFIs of the returns behind it: per unit, (examiner id, strengths,
    OFI) of every examiner who wrote either, sorted."""
    examiner_of = dict(files)
    comments: dict[str, list[tuple[str, str, str]]] = {}
    for (f, unit), (strengths, ofi, _evidence) in store.of_files(examiner_of).items():
        if strengths or ofi:
            comments.setdefault(unit, []).append((examiner_of[f], strengths or "", ofi or ""))
    for entries in comments.values():
        entries.sort()
    return replace(pi, comments=comments)


@dataclass
class PanelOutcome:
    """What happened to one applicant's panel workbook in a consolidation run."""

    key: tuple[str, str, str, str]
    path: Path
    action: str  # written | kept-edited | unchanged-edited | updated-beside
    affected: bool = False  # the returns behind it changed since the panel workbook was built
    updated: Path | None = None  # the updated workbook written beside an edited one


@dataclass
class PanelRun:
    folder: Path
    index: Path
    outcomes: list[PanelOutcome] = field(default_factory=list)

    def affected(self) -> list[PanelOutcome]:
        return [o for o in self.outcomes if o.affected]


def _entry(pi: PanelInput, plan: PanelPlan, name: str) -> dict:
    return {
        "file": name,
        "key": list((pi.year, pi.award_category, pi.stage, pi.applicant_id)),
        "applicant_name": pi.applicant_name,
        "applicant_kind": pi.applicant_kind,
        "consolidation_id": pi.consolidation_id,
        "built_from": [list(b) for b in pi.built_from],
        "examiners": [list(e) for e in pi.examiners],
        "inputs": plan.inputs,
        "sign_off": plan.sign_off,
        "locked": plan.locked,
        "prefilled": plan.prefilled,
        "formulas": plan.formulas,
    }


def _json_value(v: object) -> str:
    """Dates (a carried-over sign-off date) as ISO text; nothing else needs converting."""
    if hasattr(v, "isoformat"):
        return v.isoformat()
    raise TypeError(f"{type(v).__name__} in the consensus index")


def _json_line(obj: dict) -> bytes:
    """One line of the index: compact JSON (json's C encoder), UTF-8, the newline after it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_json_value).encode() + b"\n"


def read_index(folder: Path) -> dict:
    """The index as one object: ``version``, ``consolidation_id``, ``current`` (applicant key ->
    workbook name) and ``panels`` (workbook name -> its entry)."""
    path = Path(folder) / INDEX_NAME
    if not path.exists():
        return {"version": 1, "panels": {}}
    with path.open(encoding="utf-8") as fh:
        index = json.loads(fh.readline())
        index["panels"] = {}
        for line in fh:
            if line.strip():
                entry = json.loads(line)
                index["panels"][entry["file"]] = entry
    return index


class _IndexLines(Mapping):
    """An index's entries by workbook name, each kept as its line and parsed only when looked up."""

    def __init__(self, folder: Path) -> None:
        self.head: dict = {"version": 1}
        self.lines: dict[str, bytes] = {}
        path = Path(folder) / INDEX_NAME
        if path.exists():
            with path.open("rb") as fh:
                self.head = json.loads(fh.readline())
                for line in fh:
                    if line.strip():
                        self.lines[json.loads(line)["file"]] = line.rstrip(b"\r\n") + b"\n"

    def __getitem__(self, name: str) -> dict:
        return json.loads(self.lines[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


def _write_one(
    job: tuple[PanelInput, PanelFiles, str, str], scores: PanelScores, store: CommentStore, scratch: str
) -> tuple[str, str, int, int]:
    """Plan and write one panel workbook (atomically), its scores taken from ``scores`` and its
    comments read from ``store`` only now; its index entry appended, as a line, to this process's
    file in ``scratch``.  Its name, and where its line is: (file, offset, length)."""
    from szqa_xl.xlsx.writer import write

    bare, files, folder, name = job
    pi = with_panel_comments(with_panel_scores(bare, scores), store, files)
    plan = plan_panel(pi)
    Path(folder).mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(folder) / name) as tmp:
        write(plan.workbook, tmp)
        digest = _sha256(Path(tmp))
    line = _json_line({**_entry(pi, plan, name), "sha256": digest})
    lines = os.path.join(scratch, f"{os.getpid()}.jsonl")
    with open(lines, "ab") as fh:
        offset = fh.tell()
        fh.write(line)
    return name, lines, offset, len(line)


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _as_written(path: Path, entry: dict) -> bool:
    """The workbook holds exactly the bytes it was written with (False when it cannot be read:
    then it is read in a worker, which reports it, and it is never overwritten)."""
    try:
        return entry.get("sha256") == _sha256(path)
    except OSError:
        return False


@dataclass
class _Prepared:
    """What a run will do to the panel folder, decided before any workbook is written."""

    run: PanelRun
    head: dict  # the index's first line
    kept: _IndexLines  # the earlier index's entries
    # each workbook's inputs without its scores and comments (see panel_sources), its returns, folder, name
    jobs: list[tuple[PanelInput, PanelFiles, str, str]]
    scores: PanelScores
    store: CommentStore
    scratch: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="szqa-panel-index-"))

    def writers(self) -> list:
        """One job per workbook to write (see ``xlsx.forking.run_shared``)."""
        return [partial(_write_one, job, self.scores, self.store, self.scratch) for job in self.jobs]

    def discard(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


def write_panels(cons: Consolidation, out_dir: Path | str, workers: int = 2) -> PanelRun:
    """Write (or keep) the panel workbook of every applicant under ``out_dir/consensus``.

    The workbooks are independent: ``workers`` - 1 forked helpers share them with
    this process where fork is safe (Linux); elsewhere this process writes them all.
    """
    prepared = _prepare(cons, out_dir, workers)
    try:
        return _finish(prepared, run_shared(prepared.writers(), workers - 1))
    finally:
        prepared.discard()


def write_all(
    cons: Consolidation, out_dir: Path | str, force: bool = False, workers: int = 2
) -> tuple[dict[str, Path], PanelRun]:
    """consolidated.xlsx, scores.csv and the panel workbooks, written side by side.

    This process writes the consolidated workbook while ``workers`` - 1 forked
    helpers write scores.csv and the panel workbooks; it takes the panel
    workbooks left once its own is done.  FileExistsError (before anything is
    written or read) if consolidated.xlsx or scores.csv is there and not ``force``.
    """
    output_targets(out_dir, force)
    prepared = _prepare(cons, out_dir, workers)
    try:
        targets, written = write_outputs_with(cons, out_dir, prepared.writers(), force=force, workers=workers)
        return targets, _finish(prepared, written)
    finally:
        prepared.discard()


def _prepare(cons: Consolidation, out_dir: Path | str, workers: int) -> _Prepared:
    """Read the panel workbooks already there and decide, per applicant, what to write."""
    from szqa_xl.consensus.finalize import edits_of, read_panels  # reads files: only when there are some

    folder = Path(out_dir) / FOLDER_NAME  # created only when something is written into it
    panels = _IndexLines(folder)
    index = panels.head
    current: dict = index.setdefault("current", {})
    run = PanelRun(folder, folder / INDEX_NAME)
    inputs, scores = panel_sources(cons)
    on_disk = [
        folder / n
        for pi, _ in inputs
        for n in (panel_filename(pi), panel_filename(pi).removesuffix(".xlsx") + "_更新统计.xlsx")
        if n in panels and (folder / n).exists()
    ]
    # A workbook whose bytes are still the ones written is untouched: only the others are read
    # (opened and saved, or edited) to see whether their panel changed anything.
    touched = [p for p in on_disk if not _as_written(p, panels[p.name])]
    read = read_panels(touched, workers=workers) if touched else {}
    jobs: list[tuple[PanelInput, PanelFiles, str, str]] = []

    def edited_inputs(path: Path, entry: dict) -> dict | None:
        return edits_of(read[path], entry)

    for pi, files in inputs:
        name = panel_filename(pi)
        path = folder / name
        key = (pi.year, pi.award_category, pi.stage, pi.applicant_id)
        old = panels.get(name)
        edits = edited_inputs(path, old) if path in read else None
        if edits is None:  # new, or never touched by its panel: (re)written
            jobs.append((pi, files, str(folder), name))
            current[key_text(key)] = name
            changed = old is not None and old.get("built_from") != [list(b) for b in pi.built_from]
            run.outcomes.append(PanelOutcome(key, path, "written", affected=changed))
            continue
        changed = old.get("built_from") != [list(b) for b in pi.built_from]
        if not changed:
            current[key_text(key)] = name
            run.outcomes.append(PanelOutcome(key, path, "kept-edited"))
            continue
        # A late (or withdrawn) return changed the statistics under a panel's decisions: the panel's
        # file stays as it is; beside it, the updated statistics with its decisions carried over.
        carried = replace(pi, prefill=edits["units"], prefill_sign_off=edits["sign_off"])
        updated_name = name.removesuffix(".xlsx") + "_更新统计.xlsx"
        updated = folder / updated_name
        prior = panels.get(updated_name)
        if prior is not None and updated in read and edited_inputs(updated, prior) is not None:
            # the panel has moved to the updated workbook and works in it: never overwritten either
            same = prior.get("built_from") == [list(b) for b in pi.built_from]
            if same:
                current[key_text(key)] = updated_name
            run.outcomes.append(
                PanelOutcome(
                    key, updated, "kept-edited", affected=not same, updated=None if same else updated
                )
            )
            continue
        jobs.append((carried, files, str(folder), updated_name))
        current[key_text(key)] = updated_name
        run.outcomes.append(PanelOutcome(key, path, "updated-beside", affected=True, updated=updated))
    index["version"] = 1
    index["consolidation_id"] = consolidation_id(cons)
    return _Prepared(run, index, panels, jobs, scores, cons.comments)


def _finish(prepared: _Prepared, written: list[tuple[str, str, int, int]]) -> PanelRun:
    """Record the workbooks written in the index (atomically, once they are all there): the entries
    of workbooks kept from earlier runs, then those just written in job order, a line each."""
    new = {name: where for name, *where in written}
    sources: dict[str, object] = {}
    prepared.run.folder.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(prepared.run.index) as tmp, open(tmp, "wb") as out:
            out.write(_json_line(prepared.head))
            for name, line in prepared.kept.lines.items():
                if name not in new:
                    out.write(line)
            for lines, offset, length in new.values():
                if lines not in sources:
                    sources[lines] = open(lines, "rb")  # noqa: SIM115 - closed below, once all are copied
                fh = sources[lines]
                fh.seek(offset)
                out.write(fh.read(length))
    finally:
        for fh in sources.values():
            fh.close()
    return prepared.run
