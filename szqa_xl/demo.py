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

import yaml

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
    panels: Path | None = None
    results: Path | None = None
    feedback: Path | None = None
    finalized: str = ""
    stage2: Path | None = None  # the 现场核查 stage's folder (scoresheets, returns, consolidation, results)
    shortlist: str = ""
    final: Path | None = None
    archive: Path | None = None


def simulate_meeting(folder: Path, rng: random.Random) -> None:
    """What a panel does in its consensus workbook (with openpyxl, as a spreadsheet would save it):
    moves a flagged or a random unit's consensus off the median with a reason, edits the pooled
    comments down, writes the key themes and signs off."""
    import datetime as dt

    from openpyxl import load_workbook

    from szqa_xl.consensus.build import read_index

    index = read_index(folder)
    for name in sorted(index["current"].values()):
        entry = index["panels"][name]
        path = folder / name
        wb = load_workbook(path)
        ws = wb["共识表"]
        codes = list(entry["inputs"])
        std = builtin_standard(entry["key"][1])
        for code in rng.sample(codes, k=min(2, len(codes))):
            ref = {k: a.split("!")[1] for k, a in entry["inputs"][code].items()}
            current = ws[ref["pct"]].value
            if current is None:
                continue
            moved = int(min(100, max(0, current + rng.choice((-15, 15)))))
            ws[ref["pct"]] = moved
            ws[ref["reason"]] = (
                f"评审组讨论后调整：{'佐证充分，展开较广' if moved > current else '展开不足，缺少评价改进证据'}。"
            )
        for code in codes:
            ref = {k: a.split("!")[1] for k, a in entry["inputs"][code].items()}
            for key in ("strengths", "ofi"):
                text = ws[ref[key]].value
                if text:  # the panel keeps the first two points, without the examiners' marks
                    lines = [ln.split("] ", 1)[-1] for ln in str(text).splitlines()][:2]
                    ws[ref[key]] = "\n".join(dict.fromkeys(lines))
        so = {k: a.split("!")[1] for k, a in entry["sign_off"].items()}
        ws[so["key_themes"]] = (
            f"1. {std.categories[0].name}方面方法系统、展开较好。\n"
            f"2. {std.categories[-1].name}方面需补充连续三年的趋势与对比数据。\n"
            "3. 建议加强跨部门的学习与改进机制。"
        )
        ws[so["leader"]] = "王组长"
        ws[so["date"]] = dt.date(2027, 6, 18)
        wb.save(path)


def run_demo(
    out: Path | str, seed: int = 2027, progress: Callable[[str], None] | None = None, force: bool = False
) -> DemoResult:
    """Generate from the sample roster, simulate returns (with two bad ones), consolidate."""
    from szqa_xl.consolidation.batch import consolidate_dir
    from szqa_xl.safety import check_environment
    from szqa_xl.scoresheet.generate import generate, read_manifest
    from szqa_xl.scoresheet.layout import Issue, plan_scoresheet
    from szqa_xl.xlsx.writer import render

    check_environment()  # the demo's examiners fill their scoresheets with openpyxl
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
    from szqa_xl.consensus.build import write_all
    from szqa_xl.consensus.finalize import finalize_dir
    from szqa_xl.consensus.results import finalize_outputs, reports_available

    paths, panels = write_all(cons, output, force=force)
    say("simulating each panel's consensus meeting in its workbook")
    simulate_meeting(panels.folder, rng)
    say("finalizing: results and feedback reports")
    fin = finalize_dir(panels.folder, year=str(year))
    final_dir = root / "4_results"
    has_docx = reports_available()  # the reports need python-docx (and lxml)
    targets = finalize_outputs(fin, final_dir, force=force, reports=has_docx)
    finalized = f"{len(fin.records)} panels finalized, {len(fin.missing)} missing"
    if not has_docx:
        finalized += " (feedback reports skipped: python-docx is not installed)"
    result = DemoResult(
        root, sheets, returns, output, cons.summary(), paths["workbook"], paths["csv"],
        panels.folder, targets["workbook"], targets["feedback"] if has_docx else None, finalized,
    )  # fmt: skip
    _second_stage(result, year, quality, rng, say, has_docx)
    return result


SECOND_STAGE = "现场核查"
DEMO_RULE = "rule: weights\nstages: [材料评审, 现场核查]\nweights: {材料评审: 0.4, 现场核查: 0.6}\n"


def _second_stage(result: DemoResult, year: int, quality, rng: random.Random, say, has_docx: bool) -> None:
    """现场核查 for the top two of each award category, seeded from 材料评审; the final ranking; the archive."""
    from szqa_xl.consensus.build import write_all
    from szqa_xl.consensus.finalize import finalize_dir
    from szqa_xl.consensus.results import finalize_outputs
    from szqa_xl.consolidation.batch import consolidate_dir
    from szqa_xl.scoresheet.generate import generate, read_manifest
    from szqa_xl.stages.final import RankingRule, final_csv, final_ranking, plan_final
    from szqa_xl.stages.previous import read_previous
    from szqa_xl.stages.shortlist import next_roster, shortlist
    from szqa_xl.xlsx.atomic import atomic_path, write_text
    from szqa_xl.xlsx.writer import write

    root = result.root
    stage_dir = root / f"5_{SECOND_STAGE}"
    say(f"shortlisting the top 2 of each award category for {SECOND_STAGE}")
    sl = shortlist(result.results.parent, top=2)
    text, problems = next_roster(sl, SECOND_STAGE)
    if problems:
        raise RuntimeError(f"demo shortlist: {problems}")
    roster = stage_dir / f"{SECOND_STAGE}名单.csv"
    write_text(roster, text, encoding="utf-8-sig")
    result.shortlist = "; ".join(
        f"{c.applicant_id} ({c.award_category} #{c.rank}, {c.total:.1f})" for c in sl.chosen
    )
    say(f"generating {SECOND_STAGE} scoresheets seeded from 材料评审's consensus")
    gen = generate(roster, year, stage_dir / "1_scoresheets", stage=SECOND_STAGE,
                   previous=read_previous(result.results.parent))  # fmt: skip
    if gen.problems:
        raise RuntimeError(f"demo {SECOND_STAGE} roster: {gen.problems}")
    returns = stage_dir / "2_returns"
    for row in read_manifest(gen.manifest):
        std = builtin_standard(row["award_category"])
        q = {
            code: grid.snap(min(95, max(5, v + rng.choice((-10, -5, 0, 5)))))
            for code, v in quality[row["applicant_id"]].items()
        }
        scores = simulate_scores(std, q, 0, rng)
        fill_scoresheet(gen.out_dir / row["path"], returns / Path(row["path"]).name, scores)
    say(f"consolidating and finalizing {SECOND_STAGE}")
    cons = consolidate_dir(returns, manifest=gen.manifest, year=year)
    out = stage_dir / "3_consolidated"
    _, panels = write_all(cons, out)
    simulate_meeting(panels.folder, rng)
    fin = finalize_dir(panels.folder, year=str(year))
    finalize_outputs(fin, stage_dir / "4_results", reports=has_docx)
    result.stage2 = stage_dir
    say("final ranking across the two stages")
    rule = RankingRule.model_validate(yaml.safe_load(DEMO_RULE))
    rows = final_ranking([result.results.parent, stage_dir / "4_results"], rule)
    final = root / "6_最终排名"
    write_text(final / "ranking.yaml", DEMO_RULE)
    write_text(final / "final.csv", final_csv(rows, rule), encoding="utf-8-sig")
    with atomic_path(final / "final.xlsx") as tmp:
        write(plan_final(rows, rule), tmp)
    result.final = final / "final.xlsx"
    say("archiving the year")
    from szqa_xl.stages.archive import build_archive

    archive = root / "7_归档" / f"{year}_archive.zip"  # never archived into itself
    build_archive(root, archive, roster=SAMPLE_ROSTER, force=True)
    result.archive = archive
