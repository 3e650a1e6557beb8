"""Reading the panels' consensus workbooks back (``szqa finalize``): one safe view, bounded, problems
as data naming file and cell.

Each workbook is opened by the returns reader (``returns.reader.open_view``: the
zip as OPC resolves it, every part parsed by a real XML parser) in a worker
process under a time and memory limit (``returns.isolation``).  It is then
checked against the secretariat's index of what was built: the same applicant
and returns (its panel id), input addresses as built, locked cells unchanged, no
formula typed into an input or a locked cell and every built formula still
there, every unit's consensus on the grid, a 共识理由 wherever the consensus lies
a band or more from the median's band, and the 组长's sign-off.  A workbook re-saved by LibreOffice or WPS reads the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from szqa_xl.consensus.build import INDEX_NAME, key_text, read_index
from szqa_xl.consensus.layout import INPUTS, LAYOUT_VERSION, SHEET_META, SHEET_PANEL
from szqa_xl.consensus.record import PanelRecord, UnitConsensus
from szqa_xl.problems import Problem
from szqa_xl.returns import package as pkg
from szqa_xl.returns.isolation import DEFAULT_TIME_LIMIT, read_bounded
from szqa_xl.returns.reader import ReturnFile, open_view
from szqa_xl.returns.xmlparts import ErrorValue, cell_name, covered_cells, value_text
from szqa_xl.standards import grid
from szqa_xl.standards.load import builtin_fingerprint, builtin_standard
from szqa_xl.xlsx.plan import column_index, column_letter, split_ref

SUFFIXES = {".xlsx", ".xlsm"}


@dataclass
class PanelRead:
    """A panel workbook as read: its metadata and the cells of the 共识表 sheet."""

    path: Path
    name: str
    sha256: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    unit_inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    built_from: list[list[str]] = field(default_factory=list)
    cells: dict[str, object] = field(default_factory=dict)  # "K5" -> value (共识表)
    formulas: set[str] = field(default_factory=set)
    formula_ranges: list[tuple[int, int, int, int]] = field(default_factory=list)  # array formulas' ranges
    problems: list[Problem] = field(default_factory=list)


def read_panel_file(path: str | Path) -> PanelRead:
    """Open one panel workbook (in a worker: see ``returns.isolation``); problems are data."""
    path = Path(path)
    pr = PanelRead(path, path.name)
    try:
        size = path.stat().st_size
        if size > pkg.MAX_FILE_BYTES:
            pr.problems.append(Problem("too-large", f"文件过大（{size // 1024 // 1024} MB）", pr.name))
            return pr
        data = path.read_bytes()
    except OSError as exc:
        pr.problems.append(Problem("unreadable", f"无法读取文件：{exc.strerror or exc}", pr.name))
        return pr
    pr.sha256 = hashlib.sha256(data).hexdigest()
    view = open_view(data, pr.name, (SHEET_PANEL, SHEET_META))
    if isinstance(view, Problem):
        pr.problems.append(view)
        return pr
    for needed in (SHEET_PANEL, SHEET_META):
        if needed not in view.sheets:
            pr.problems.append(
                Problem("missing-sheet", f"缺少工作表“{needed}”：不是本系统生成的共识表", pr.name, needed)
            )
            return pr
    meta = view.sheets[SHEET_META]
    if meta.formulas:
        pr.problems.append(Problem("bad-meta", "元数据工作表含公式（元数据被改动）", pr.name, SHEET_META))
        return pr
    rows = [[value_text(meta.value(r, c)) for c in range(1, 6)] for r in range(1, meta.max_row + 1)]
    section = "kv"
    for row in rows[1:]:
        if not row[0]:
            continue
        if row[0] == "unit":
            section = "units"
        elif row[0] == "issue_id" and row[1] == "sha256":
            section = "built"
        elif section == "kv":
            pr.meta[row[0]] = row[1]
        elif section == "units":
            pr.unit_inputs[row[0]] = dict(zip(INPUTS, row[1:5], strict=True))
        else:
            pr.built_from.append([row[0], row[1]])
    sheet = view.sheets[SHEET_PANEL]
    pr.cells = {cell_name(pos): v for pos, v in sheet.values.items()}
    pr.formulas = {cell_name(pos) for pos in sheet.formulas}
    pr.formula_ranges = list(sheet.formula_ranges)
    return pr


def _same(got: object, want: object) -> bool:
    if isinstance(got, (datetime, date)) and isinstance(want, str):  # a date kept in the index as ISO text
        return got.isoformat() == want or (isinstance(got, datetime) and got.date().isoformat() == want)
    if want is None or want == "":
        return got is None or got == ""
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        return isinstance(got, (int, float)) and not isinstance(got, bool) and abs(float(got) - want) < 1e-9
    return isinstance(got, str) and not isinstance(got, ErrorValue) and got == want


def read_panels(paths: list[Path], workers: int = 2) -> dict[Path, PanelRead | ReturnFile]:
    """Panel workbooks read in workers (bounded in time and memory), by path."""
    paths = list(paths)
    return {paths[i]: pr for i, pr in read_bounded(paths, workers=max(1, workers), reader=read_panel_file)}


def edits_of(pr: PanelRead | ReturnFile, entry: dict) -> dict | None:
    """The panel's inputs if its workbook was edited since it was built (None: untouched).

    A workbook that cannot be read counts as edited (it is never overwritten), with
    nothing to carry over."""
    if isinstance(pr, ReturnFile) or pr.problems:
        return {"units": {}, "sign_off": {}}
    changed = any(not _same(pr.cells.get(addr), want) for addr, want in entry.get("prefilled", {}).items())
    if not changed:
        return None
    units = {
        code: {name: _plain(pr.cells.get(addr.split("!")[1])) for name, addr in fields.items()}
        for code, fields in entry.get("inputs", {}).items()
    }
    sign_off = {k: _plain(pr.cells.get(addr.split("!")[1])) for k, addr in entry.get("sign_off", {}).items()}
    return {"units": units, "sign_off": sign_off}


def _plain(v: object) -> object:
    if isinstance(v, ErrorValue):
        return None
    if isinstance(v, (datetime, date)):
        return v
    return v


@dataclass
class Finalization:
    folder: Path
    records: list[PanelRecord] = field(default_factory=list)
    reads: list[tuple[str, str, list[Problem]]] = field(default_factory=list)  # (file, status, problems)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (key text, expected file)

    @property
    def problems(self) -> list[Problem]:
        return [p for _, _, probs in self.reads for p in probs]


def _band_indexes(std, kind: str, pct: float) -> set[int]:
    return {i for i, b in enumerate(std.guide(kind).bands) if b.min <= pct <= b.max}


def bands_apart(std, kind: str, a: float, b: float) -> int:
    """How many bands lie between two percentages (0: a band holds both; boundaries count for both bands)."""
    ia, ib = _band_indexes(std, kind, a), _band_indexes(std, kind, b)
    return min(abs(i - j) for i in ia for j in ib) if ia and ib else 0


def finalize_dir(
    folder: Path | str,
    year: str | None = None,
    reason_bands: int = 1,
    workers: int = 2,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> Finalization:
    """Read every panel workbook under ``folder`` against the index written with them."""
    folder = Path(folder)
    fin = Finalization(folder)
    index = read_index(folder)
    if not (folder / INDEX_NAME).exists():
        fin.reads.append(
            (
                "",
                "rejected",
                [
                    Problem(
                        "no-index",
                        f"{folder} 中没有 {INDEX_NAME}：不是 szqa consolidate 写出的共识表文件夹",
                        str(folder),
                    )
                ],
            )
        )
        return fin
    panels, current = index.get("panels", {}), index.get("current", {})
    paths = sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in SUFFIXES and not p.name.startswith(("~$", ".~", "."))
    )
    done: set[str] = set()
    for _i, pr in read_bounded(paths, workers=max(1, workers), time_limit=time_limit, reader=read_panel_file):
        if isinstance(pr, ReturnFile):  # the read itself failed (too slow, too big, crashed)
            fin.reads.append((pr.name, "rejected", list(pr.problems)))
            continue
        record = _check(pr, panels, current, year, reason_bands)
        if isinstance(record, PanelRecord):
            if key_text(record.key) in done:
                fin.reads.append(
                    (
                        pr.name,
                        "duplicate",
                        [Problem("duplicate", "同一申报方的共识表已读取，未重复采用", pr.name)],
                    )
                )
                continue
            done.add(key_text(record.key))
            fin.records.append(record)
            fin.reads.append((pr.name, "accepted", [p for p in pr.problems if p.severity != "error"]))
        else:
            fin.reads.append((pr.name, "rejected", pr.problems))
    seen = {p.name for p in paths}
    for key, name in sorted(current.items()):
        if key not in done and name not in seen:  # a rejected one is listed with its reasons instead
            fin.missing.append((key, name))
    fin.records.sort(key=lambda r: r.key)
    return fin


def _check(pr: PanelRead, panels: dict, current: dict, year: str | None, reason_bands: int):
    name = pr.name
    probs = pr.problems

    def add(code, msg, cell="", severity="error", sheet=SHEET_PANEL):
        probs.append(Problem(code, msg, name, sheet, cell, severity))

    if any(p.severity == "error" for p in probs):
        return None
    m = pr.meta
    if m.get("kind") != "consensus" or m.get("layout_version") != LAYOUT_VERSION:
        add("not-consensus", "不是本系统生成的共识表（元数据不符）", sheet=SHEET_META)
        return None
    try:
        std = builtin_standard(m.get("award_category", ""))
    except KeyError:
        add("bad-meta", f"奖项类别 {m.get('award_category')!r} 无效（元数据被改动）", sheet=SHEET_META)
        return None
    if m.get("fingerprint") != builtin_fingerprint(std.id):
        add("edition", "共识表依据的标准版本与当前标准不一致", sheet=SHEET_META)
        return None
    if year is not None and m.get("year") != str(year):
        add("wrong-year", f"评审年度为 {m.get('year') or '空'}，本次定稿的是 {year} 年度", sheet=SHEET_META)
        return None
    key = (m.get("year", ""), std.id, m.get("stage", ""), m.get("applicant_id", ""))
    expected_name = current.get(key_text(key))
    entry = panels.get(expected_name) if expected_name else None
    if entry is None:
        add("not-in-index", "该申报方不在本次汇总的共识表清单中（来自其他汇总或被改动）", sheet=SHEET_META)
        return None
    if m.get("consolidation_id") != entry["consolidation_id"]:
        add(
            "other-consolidation",
            f"此共识表依据的评分表与本次汇总不同（编号 {m.get('consolidation_id', '')[:16]}，"
            f"本次为 {entry['consolidation_id']}）：请使用 {expected_name}",
            sheet=SHEET_META,
        )
        return None
    if pr.unit_inputs != entry["inputs"]:
        add("bad-meta", "元数据中的单元格地址与下发的共识表不符（元数据被改动）", sheet=SHEET_META)
        return None
    for addr, want in entry["locked"].items():
        got = pr.cells.get(addr)
        if not _same(got, want):
            add(
                "locked-changed",
                f"锁定单元格被改动：应为 {value_text(want)[:30]!r}，实为 {value_text(got)[:30]!r}",
                addr,
            )
            return None
    _check_formulas(pr, entry, add)
    if any(p.severity == "error" for p in probs):
        return None
    units: dict[str, UnitConsensus] = {}
    examiners = tuple(
        tuple(x.split("=", 1)) if "=" in x else (x, "") for x in m.get("examiners", "").split(";") if x
    )
    for unit in std.units():
        fields = entry["inputs"][unit.code]
        ref = {k: a.split("!")[1] for k, a in fields.items()}
        pct_v = pr.cells.get(ref["pct"])
        pct = None
        if pct_v is None or pct_v == "":
            add("no-consensus", f"{unit.code} 未填写共识得分率", ref["pct"])
        elif isinstance(pct_v, bool) or not isinstance(pct_v, (int, float)):
            add("bad-consensus", f"{unit.code} 共识得分率 {pct_v!r} 不是数字", ref["pct"])
        elif not grid.on_grid(std, float(pct_v)):
            add(
                "off-grid",
                f"{unit.code} 共识得分率 {pct_v:g} 不是 0–100 间 {std.grid_step} 的整数倍",
                ref["pct"],
            )
        else:
            pct = float(pct_v)
        row = split_ref(ref["pct"])[0]
        median = entry["locked"].get(f"{_median_col(ref['pct'])}{row}")
        texts = {k: value_text(pr.cells.get(ref[k])).strip() for k in ("reason", "strengths", "ofi")}
        if pct is not None and median is not None:
            apart = bands_apart(std, unit.kind, pct, float(grid.snap(median, std.grid_step)))
            if apart >= reason_bands and not texts["reason"]:
                add(
                    "no-reason",
                    f"{unit.code} 共识得分率 {pct:g} 与中位数 {median:g} 相差 {apart} 档，须写明共识理由",
                    ref["reason"],
                )
        pcts = tuple(
            entry["locked"].get(f"{column_letter(EXAMINER_COL + i)}{row}") for i in range(len(examiners))
        )
        units[unit.code] = UnitConsensus(
            unit.code, pct, texts["reason"], texts["strengths"], texts["ofi"], median, pcts
        )
    so = {k: pr.cells.get(a.split("!")[1]) for k, a in entry["sign_off"].items()}
    leader = value_text(so.get("leader")).strip()
    signed = so.get("date")
    if not leader:
        add("no-sign-off", "未填写组长姓名（共识表未签认）", entry["sign_off"]["leader"].split("!")[1])
    if signed is None or signed == "":
        add("no-sign-off", "未填写共识日期（共识表未签认）", entry["sign_off"]["date"].split("!")[1])
    if any(p.severity == "error" for p in probs):
        return None
    signed_on = signed.date().isoformat() if isinstance(signed, datetime) else value_text(signed)
    return PanelRecord(
        year=key[0],
        award_category=std.id,
        stage=key[2],
        applicant_id=key[3],
        applicant_name=m.get("applicant_name", ""),
        applicant_kind=m.get("applicant_kind", "organisation"),
        units=units,
        examiners=examiners,
        key_themes=value_text(so.get("key_themes")).strip(),
        leader=leader,
        signed_on=signed_on,
        source_file=pr.name,
        source_sha256=pr.sha256,
        built_from=tuple(tuple(b) for b in pr.built_from),
        extra={"industry": m.get("industry", "")},
    )


def _check_formulas(pr: PanelRead, entry: dict, add: Callable[..., None]) -> None:
    """Formulas where the workbook was built with none, and none where it was built with one.

    A formula typed into an input is refused (the consensus is a number or a text the panel typed);
    one in a locked cell shows the meeting a figure its cached value hides until the next
    recalculation; a unit score, subtotal or total replaced by a constant shows one the consensus
    does not give.  Results are computed from the consensus % alone, so none of these could change
    a result, but each would change what the panel saw and signed.  An array formula's range
    covers cells too (as in the returns reader).  An index written before the formulas were recorded (no ``formulas``)
    checks only the locked cells it names."""
    inputs = {a.split("!")[1] for fields in entry["inputs"].values() for a in fields.values()}
    inputs |= {a.split("!")[1] for a in entry["sign_off"].values()}
    built = set(entry["formulas"]) if "formulas" in entry else None
    locked = entry["locked"]
    interesting = {split_ref(a) for a in inputs | set(locked) | (built or set())}
    covered = {cell_name(pos) for pos in covered_cells(pr.formula_ranges, interesting)}
    for ref in sorted(pr.formulas | (covered - (built or set())), key=split_ref):
        if ref in inputs:
            add("formula-input", "填写区含公式：请直接填写数值或文字", ref)
        elif ref in locked or (built is not None and ref not in built):
            add("locked-formula", "锁定单元格被改为公式（共识表被改动），请使用下发的共识表", ref)
    for ref in sorted((built or set()) - pr.formulas - covered, key=split_ref):
        add(
            "formula-removed",
            "下发的公式被改为固定值或被清除（共识表被改动），请使用下发的共识表",
            ref,
        )


EXAMINER_COL = 5
"""The panel sheet's first examiner column (E), after 编号, 评分项目, 分值, 类型 (``consensus.layout``)."""


def _median_col(pct_ref: str) -> str:
    """The 中位数% column: four to the left of the consensus % column (median, range, spread, flag)."""
    return column_letter(column_index("".join(ch for ch in pct_ref if ch.isalpha())) - 4)
