"""The whole award cycle on built-in sample data: generate, simulate examiners, consolidate.

Also the examiner simulation used by tests and benchmarks (:func:`fill_scoresheet`).
"""

from __future__ import annotations

import datetime
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from szqa_xl.scoresheet.layout import DECLARATION_OK
from szqa_xl.standards import grid
from szqa_xl.standards.load import builtin_standard
from szqa_xl.standards.models import Standard

SAMPLE_ROSTER = Path(__file__).resolve().parent / "data" / "sample_roster.csv"

STRENGTH_PHRASES = (
    "方法系统，覆盖主要业务单元，有明确的评价与改进机制。",
    "提供了连续三年的数据，趋势向好，并与行业标杆进行了对比。",
    "领导层亲自推动，制度化程度高，员工知晓率高。",
)
OFI_PHRASES = (
    "部分环节仍停留在被动应对，缺少基于数据的定期评价。",
    "对标对象的选择依据不充分，缺少与国际先进水平的比较。",
    "创新成果的推广范围有限，尚未形成可复制的模式。",
)


@dataclass(frozen=True)
class Score:
    band: str | None
    pct: int | None
    strengths: str = ""
    ofi: str = ""
    evidence: str = ""


def band_for(std: Standard, kind: str, pct: int, prefer_upper: bool = False) -> str:
    """The band label an examiner would pick for ``pct`` (upper band at a shared boundary if asked)."""
    idx = grid.bands_of_pct(std, kind, pct)
    band = std.guide(kind).bands[idx[-1] if prefer_upper else idx[0]]
    return grid.band_label(band)


def fill_scoresheet(
    src: Path | str,
    dst: Path | str,
    scores: dict[str, Score],
    declaration: str | None = DECLARATION_OK,
    date: str | None = "2027-05-20",
) -> Path:
    """What an examiner does in Excel: pick bands and percentages, write comments, sign, save."""
    from openpyxl import load_workbook

    from szqa_xl.returns.reader import expected_layout

    wb = load_workbook(src)
    meta = {r[0].value: r[1].value for r in wb["_meta"].iter_rows(min_row=2, max_col=2) if r[0].value}
    inputs, cover = expected_layout(meta["award_category"], meta["issue_id"] == "BLANK")
    for code, s in scores.items():
        addrs = inputs[code]
        for key, value in (
            ("band", s.band),
            ("pct", s.pct),
            ("strengths", s.strengths),
            ("ofi", s.ofi),
            ("evidence", s.evidence),
        ):
            sheet, ref = addrs[key].split("!")
            cell = wb[sheet][ref]
            cell.value = value if value != "" else None
            if isinstance(value, str):
                cell.data_type = "s"
    if declaration is not None:
        sheet, ref = cover["declaration"].split("!")
        wb[sheet][ref] = declaration
    if date is not None:
        sheet, ref = cover["date"].split("!")
        wb[sheet][ref] = datetime.date.fromisoformat(date)  # a real date, as the cell's validation expects
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dst)
    return dst


def simulate_scores(
    std: Standard, quality: dict[str, int], bias: int, rng: random.Random, blanks: int = 0
) -> dict[str, Score]:
    """One examiner's view: the applicant's true quality per unit, the examiner's bias, some noise."""
    units = std.units()
    blank_codes = set(rng.sample([u.code for u in units], blanks)) if blanks else set()
    out = {}
    for u in units:
        if u.code in blank_codes:
            continue
        pct = grid.snap(quality[u.code] + bias + rng.choice((-10, -5, 0, 0, 5, 10)), std.grid_step)
        out[u.code] = Score(
            band=band_for(std, u.kind, pct, prefer_upper=rng.random() < 0.5),
            pct=pct,
            strengths=rng.choice(STRENGTH_PHRASES),
            ofi=rng.choice(OFI_PHRASES),
            evidence=f"申报材料 P{rng.randint(3, 120)}",
        )
    return out


@dataclass
class DemoResult:
    root: Path
    scoresheets: Path
    returns: Path
    output: Path
    summary: str
    workbook: Path
    csv: Path


def run_demo(
    out: Path | str, seed: int = 2027, progress: Callable[[str], None] | None = None, force: bool = False
) -> DemoResult:
    """Generate from the sample roster, simulate returns (with two bad ones), consolidate."""
    from szqa_xl.consolidation.batch import consolidate_dir, write_outputs
    from szqa_xl.scoresheet.generate import generate, read_manifest
    from szqa_xl.scoresheet.layout import Issue, plan_scoresheet
    from szqa_xl.xlsx.writer import render

    say = progress or (lambda _msg: None)
    root = Path(out)
    if root.exists() and any(root.iterdir()):
        if not force:
            raise FileExistsError(str(root))
        shutil.rmtree(root)
    sheets, returns, output = root / "1_scoresheets", root / "2_returns", root / "3_consolidated"
    year = 2027
    say(f"generating scoresheets from {SAMPLE_ROSTER.name}")
    result = generate(SAMPLE_ROSTER, year, sheets)
    manifest = read_manifest(result.manifest)
    rng = random.Random(seed)
    quality: dict[str, dict[str, int]] = {}
    biases = {0: 10, 1: -10}  # first examiner of each panel lenient, second severe
    skipped_one = False
    say(f"simulating {len(manifest)} examiners' returns")
    for row in manifest:
        std = builtin_standard(row["award_category"])
        q = quality.setdefault(row["applicant_id"], {})
        level = rng.randint(35, 80) if not q else None
        for u in std.units():
            q.setdefault(u.code, grid.snap(min(95, max(5, (level or 60) + rng.randint(-15, 15)))))
        panel = [r["examiner_id"] for r in manifest if r["applicant_id"] == row["applicant_id"]]
        pos = panel.index(row["examiner_id"])
        if pos == 4 and not skipped_one:  # one examiner never returns the file
            skipped_one = True
            continue
        scores = simulate_scores(std, q, biases.get(pos, 0), rng, blanks=3 if pos == 2 else 0)
        fill_scoresheet(sheets / row["path"], returns / Path(row["path"]).name, scores)
    # Two bad returns: a tampered one (locked points edited) and one from another award year.
    from openpyxl import load_workbook

    good = sorted(returns.glob("*.xlsx"))[0]
    wb = load_workbook(good)
    ws = wb["评分表"]
    ws["C5"] = 100
    wb.save(returns / f"篡改_{good.name}")
    row = manifest[0]
    std = builtin_standard(row["award_category"])
    old = Issue(
        year=year - 1,
        stage=row["stage"],
        applicant_id=row["applicant_id"],
        applicant_name=row["applicant_name"],
        examiner_id=row["examiner_id"],
        examiner_name=row["examiner_name"],
        issue_id="0" * 32,
        generated_at="2026-04-01T00:00:00+00:00",
    )
    old_path = render(plan_scoresheet(std, old).workbook, root / "tmp_old.xlsx")
    fill_scoresheet(
        old_path,
        # named after whose and which year's scoresheet it is
        returns / ("旧表_" + Path(row["path"]).name.replace(f"{year}_", f"{year - 1}_", 1)),
        simulate_scores(std, quality[row["applicant_id"]], 0, rng),
    )
    old_path.unlink()
    say("consolidating returns")
    cons = consolidate_dir(returns, manifest=result.manifest, year=year)
    paths = write_outputs(cons, output, force=force)
    return DemoResult(root, sheets, returns, output, cons.summary(), paths["workbook"], paths["csv"])
