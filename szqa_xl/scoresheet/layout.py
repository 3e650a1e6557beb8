"""Plan of an examiner scoresheet: pure code, no openpyxl.

``plan_scoresheet(std, issue)`` turns a standard and the details of one issued
file into a :class:`plan.Workbook`.  The metadata sheet written here names the
address of every input and locked check cell; consolidation reads those names,
never row positions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from szqa_xl.standards import grid
from szqa_xl.standards.load import fingerprint
from szqa_xl.standards.models import APPLICANT_KIND_ZH, KIND_ZH, Kind, ScoringUnit, Standard, terms_in
from szqa_xl.xlsx.plan import CondFormat, Sheet, Style, Validation, Workbook, column_letter

LAYOUT_VERSION = "1"

SHEET_COVER = "封面"
SHEET_SCORES = "评分表"
SHEET_GUIDE = "评分指南"
SHEET_GLOSSARY = "关键术语"
SHEET_PREVIOUS = "上阶段共识"
SHEET_CHECKS = "核查要点"
CHECK_VERDICTS = ("证实", "部分证实", "未证实")
SHEET_LISTS = "_lists"
SHEET_META = "_meta"

DECLARATIONS = ("本人声明：与申报方无利益冲突", "本人与申报方存在利益冲突，已报告评审办公室")
DECLARATION_OK = DECLARATIONS[0]

KIND_SUFFIX: dict[str, str] = {"process": "P", "result": "R"}

# Scoring sheet columns.
COL = {
    "code": "A",
    "name": "B",
    "points": "C",
    "kind": "D",
    "requirement": "E",
    "guidance": "F",
    "band": "G",
    "pct": "H",
    "score": "I",
    "status": "J",
    "band_text": "K",
    "strengths": "L",
    "ofi": "M",
    "evidence": "N",
}
HEADERS = {
    "code": "编号",
    "name": "评分项目",
    "points": "分值",
    "kind": "类型",
    "requirement": "基本要求 / 说明",
    "guidance": "要点指引",
    "band": "评分区间 ▼",
    "pct": "得分率% ▼",
    "score": "得分",
    "status": "状态",
    "band_text": "所选区间描述",
    "strengths": "优势",
    "ofi": "改进机会",
    "evidence": "佐证材料 / 页码",
}
WIDTHS = {  # 182 in all: printed on A3 landscape at 1:0.83, the 10 pt guidance is 8.3 pt on paper
    "code": 6,
    "name": 10,
    "points": 5,
    "kind": 5,
    "requirement": 18,
    "guidance": 41,
    "band": 14,
    "pct": 7,
    "score": 6,
    "status": 9,
    "band_text": 24,
    "strengths": 14,
    "ofi": 14,
    "evidence": 9,
}
GUIDANCE_PT = 10
"""Size of the guidance, requirement and band texts on the sheet (8 pt or more once printed)."""
INPUT_FIELDS = ("band", "pct", "strengths", "ofi", "evidence")
LOCKED_FIELDS = ("code", "name", "points")
HEADER_ROW = 3
TEXT_MAX = 32767
TEXT_PROMPTS = {
    "strengths": (
        "优势",
        "写明该条目的优势（可分点）。以“=”“+”“-”开头会被当作公式：分点请用“·”“1.”或“（1）”开头。",
    ),
    "ofi": (
        "改进机会",
        "写明该条目的改进机会（可分点）。以“=”“+”“-”开头会被当作公式：分点请用“·”“1.”或“（1）”开头。",
    ),
    "evidence": ("佐证材料 / 页码", "注明依据的申报材料及页码，如“申报材料 P12–15”。"),
}
TEXT_ERROR = (
    f"此处填写文字，最多 {TEXT_MAX} 个字符。以“=”“+”“-”开头的内容会被当作公式而无法接受："
    "请改用“·”“1.”或“（1）”等开头（例如“·优势明显”），过长的内容请精简或分段。"
)

STYLES: dict[str, Style] = {
    "title": Style(bold=True, size=15, color="1F3864", valign="center"),
    "subtitle": Style(size=10, color="404040", valign="center"),
    "header": Style(
        bold=True, color="FFFFFF", fill="1F4E78", wrap=True, halign="center", valign="center", border=True
    ),
    "cat": Style(bold=True, size=11, fill="D9E1F2", border=True, valign="center", wrap=True),
    "cat_num": Style(
        bold=True, size=11, fill="D9E1F2", border=True, valign="center", halign="center", number_format="0.0"
    ),
    "cat_pts": Style(
        bold=True, size=11, fill="D9E1F2", border=True, valign="center", halign="center", number_format="0"
    ),
    "total_pts": Style(
        bold=True, size=12, fill="FCE4D6", border=True, halign="center", valign="center", number_format="0"
    ),
    "code": Style(bold=True, border=True, halign="center"),
    "text": Style(border=True, wrap=True),
    "small": Style(border=True, wrap=True, size=GUIDANCE_PT),
    "center": Style(border=True, halign="center"),
    "input": Style(fill="FFF2CC", border=True, halign="center", locked=False),
    "input_pct": Style(fill="FFF2CC", border=True, halign="center", locked=False, number_format="0"),
    "input_text": Style(fill="FFF2CC", border=True, wrap=True, locked=False),
    "input_date": Style(
        fill="FFF2CC", border=True, locked=False, number_format="yyyy-mm-dd", halign="left", valign="center"
    ),
    "score": Style(border=True, halign="center", number_format="0.0"),
    "status": Style(border=True, halign="center", size=9),
    "total": Style(bold=True, size=12, fill="FCE4D6", border=True, valign="center"),
    "total_num": Style(
        bold=True, size=12, fill="FCE4D6", border=True, halign="center", valign="center", number_format="0.0"
    ),
    "label": Style(bold=True, fill="F2F2F2", border=True, valign="center"),
    "value": Style(border=True, valign="center", wrap=True, halign="left"),
    "value_big": Style(bold=True, size=13, border=True, valign="center", number_format="0.0"),
    "note": Style(wrap=True, size=10),
    "meta": Style(),
}

INSTRUCTIONS = (
    "填写与返回说明",
    "1. 先在本页“利益冲突声明”处选择声明；存在利益冲突的，请停止评分并联系评审办公室。",
    "2. 在“评分表”中逐项评分：先在“评分区间”下拉框选择区间，再在“得分率%”下拉框选择该区间内的得分率（5的整数倍）。",
    "3. 得分、小计、总分、进度由表格自动计算；“状态”列提示未评分或区间与得分率不一致的条目。",
    "4. 在“优势”“改进机会”列写明评价意见，在“佐证材料/页码”列注明依据的申报材料页码。",
    "5. 黄色单元格为填写区，其余单元格已锁定；请勿增删行列、改动工作表名称或复制粘贴整行。",
    "6. 评分指南与关键术语见同名工作表。全部条目评完后“总分”显示得分，否则显示“未完成”。",
    "7. 完成后保存为 .xlsx（不要改名、不要另存为其他格式），按评审办公室要求提交；提交前可运行 szqa check 自查。",
    "8. “评分表”按 A3 横向打印（已设置好）；改用 A4 打印时要点指引的字号不足 6 磅，不便阅读。",
)


@dataclass(frozen=True)
class Issue:
    """Who and what one issued scoresheet is for.  Blank templates leave people empty."""

    year: int | None = None
    stage: str = "材料评审"
    applicant_id: str = ""
    applicant_name: str = ""
    applicant_kind: str = "organisation"
    examiner_id: str = ""
    examiner_name: str = ""
    issue_id: str = "BLANK"
    generated_at: str = ""
    industry: str = ""  # 行业, from the roster: carried to the results for the committee

    @property
    def blank(self) -> bool:
        return self.issue_id == "BLANK"


@dataclass(frozen=True)
class PreviousUnit:
    """What the panel of the previous stage agreed for one unit."""

    pct: float | None
    band: str = ""
    strengths: str = ""
    ofi: str = ""


@dataclass(frozen=True)
class PreviousStage:
    """The previous stage's consensus for one applicant: seeds a later stage's scoresheet."""

    stage: str
    units: dict[str, PreviousUnit]


def check_points(std: Standard, previous: PreviousStage) -> list[tuple[str, str, str]]:
    """(unit code, 改进机会 | 优势, text): one site-visit issue per consensus OFI and per strength to verify."""
    out = []
    for u in std.units():
        pu = previous.units.get(u.code)
        if pu is None:
            continue
        for kind, text in (("改进机会", pu.ofi), ("优势", pu.strengths)):
            for line in str(text or "").splitlines():
                line = line.strip()
                if line:
                    out.append((u.code, kind, line))
    return out


@dataclass
class ScoresheetPlan:
    workbook: Workbook
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)  # unit code -> field -> "Sheet!A1"
    cover_inputs: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)


_NARROW_RUN = re.compile("[\x00-\u2e80]+")
"""Runs of characters counted one width unit wide; the others (CJK and everything above
U+2E80) count two.  Matched as runs: a few matches per line, not one per wide character."""


def text_height(text: str, width: float, line_pt: float = 13.0, size: float = 10.0) -> float:
    """Row height in points that shows ``text`` wrapped in a column ``width`` characters wide.

    CJK characters take two width units; the estimate errs on the generous side
    because a clipped guidance sentence is worse than white space.
    """
    per_line = max(1.0, width * 12.0 / size)  # measured in LibreOffice: ~1.3 width units per CJK char at 9 pt
    lines = 0
    for para in text.split("\n"):
        units = 2 * len(para) - sum(map(len, _NARROW_RUN.findall(para)))
        lines += max(1, math.ceil(units / per_line))
    if lines > 3:  # wrapping breaks before punctuation it may not split: allow for one more line
        lines += 1
    return lines * line_pt + 6


def unit_label(std: Standard, unit: ScoringUnit) -> str:
    """A unit's name as the scoresheet shows it: with the 评审细则's name beside it where that differs."""
    second = _detail_names(std).get(unit.code)
    return f"{unit.name}（{second}）" if second else unit.name


def _detail_names(std: Standard) -> dict[str, str]:
    out: dict[str, str] = {}
    for cat in std.categories:
        for item in cat.items:
            if item.detail_name:
                out[item.code] = item.detail_name
            for sub in item.sub_items:
                if sub.detail_name:
                    out[sub.code] = sub.detail_name
    return out


def guidance_text(unit: ScoringUnit) -> str:
    parts = []
    for g in unit.guidance:
        if g.code and g.title:
            parts.append(f"{g.code} {g.title}\n{g.text}")
        elif g.code:
            parts.append(f"{g.code} {g.text}")
        elif g.title:
            parts.append(f"{g.title}：{g.text}")
        else:
            parts.append(g.text)
    return "\n".join(parts)


def band_description(std: Standard, kind: Kind, index: int) -> str:
    band = std.guide(kind).bands[index]
    return "\n".join(band.descriptors)


def _abs(sheet: str, col: str, r1: int, r2: int | None = None) -> str:
    ref = f"${col}${r1}" if r2 is None else f"${col}${r1}:${col}${r2}"
    return f"'{sheet}'!{ref}"


def _lists_sheet(std: Standard, wb: Workbook) -> Sheet:
    """Band labels, ranges, descriptors and per-band percentage lists behind the dropdowns."""
    sh = Sheet(SHEET_LISTS, state="veryHidden")
    col_idx = 1

    def put_column(name: str, values: list) -> None:
        nonlocal col_idx
        c = column_letter(col_idx)
        sh.put(f"{c}1", name)
        for r, v in enumerate(values, start=2):
            sh.put(f"{c}{r}", v)
        wb.names[name] = _abs(SHEET_LISTS, c, 2, 1 + len(values))
        col_idx += 1

    for kind in ("process", "result"):
        s = KIND_SUFFIX[kind]
        bands = std.guide(kind).bands
        put_column(f"BANDS_{s}", grid.band_labels(std, kind))
        put_column(f"BMIN_{s}", [b.min for b in bands])
        put_column(f"BMAX_{s}", [b.max for b in bands])
        put_column(f"BDESC_{s}", [band_description(std, kind, i) for i in range(len(bands))])
        for i, band in enumerate(bands, start=1):
            put_column(f"{s}_{i}", grid.band_values(std, band))
    put_column("PCT_ALL", list(std.grid()))
    put_column("DECLARATIONS", list(DECLARATIONS))
    return sh


def _scores_sheet(std: Standard, issue: Issue, plan: ScoresheetPlan) -> Sheet:
    # A3 landscape, fit to width: on A4 the 14 columns print the guidance at about 6 pt.
    sh = Sheet(SHEET_SCORES, freeze="C4", print_title_rows="1:3", tab_color="1F4E78", paper="A3")
    last_col = COL["evidence"]
    who = issue.applicant_name or "（申报组织/项目）"
    sh.put("A1", f"深圳市市长质量奖 · {std.name_zh} · 评分表", "title")
    sh.merges.append(f"A1:{last_col}1")
    year = f"{issue.year}年度" if issue.year else "年度：____"
    examiner = issue.examiner_name or "____"
    sh.put(
        "A2",
        f"{year}　{issue.stage}　申报方：{who}　评审员：{examiner}　标准：{std.edition}　"
        f"评分前请读“{SHEET_GUIDE}”：评审细则的读法、评分原则、各区间描述及用语（如“大多数”）的含义",
        "subtitle",
    )
    sh.merges.append(f"A2:{last_col}2")
    sh.row_heights[1] = 26
    sh.row_heights[2] = 18
    for key, letter in COL.items():
        sh.put(f"{letter}{HEADER_ROW}", HEADERS[key], "header")
        sh.col_widths[letter] = WIDTHS[key]
    sh.row_heights[HEADER_ROW] = 30

    row = HEADER_ROW + 1
    n_units = len(std.units())
    subtotal_cells: list[str] = []
    status_ranges: list[str] = []
    first_unit_row = row
    c = COL
    for cat in std.categories:
        units = [u for u in std.units() if u.category_code == cat.code]
        cat_row = row
        name = f"{cat.name}（{cat.detail_name}）" if cat.detail_name else cat.name
        sh.put(f"{c['code']}{cat_row}", cat.code, "cat")
        sh.put(f"{c['name']}{cat_row}", name, "cat")
        sh.put(f"{c['points']}{cat_row}", cat.points, "cat_pts")
        sh.put(f"{c['requirement']}{cat_row}", cat.description or "", "cat")
        sh.merges.append(f"{c['requirement']}{cat_row}:{c['guidance']}{cat_row}")
        for key in ("band", "pct", "band_text", "strengths", "ofi", "evidence"):
            sh.put(f"{c[key]}{cat_row}", None, "cat")
        sh.row_heights[cat_row] = max(
            text_height(name, WIDTHS["name"], 15.0, 11),
            text_height(cat.description or "", WIDTHS["requirement"] + WIDTHS["guidance"], 15.0, 11),
        )
        r1, r2 = cat_row + 1, cat_row + len(units)
        sh.put(f"{c['score']}{cat_row}", f"=SUM({c['score']}{r1}:{c['score']}{r2})", "cat_num", formula=True)
        sh.put(
            f"{c['status']}{cat_row}",
            f'=COUNTIF({c["status"]}{r1}:{c["status"]}{r2},"{grid.STATUS_OK}")&"/"&{len(units)}',
            "cat",
            formula=True,
        )
        subtotal_cells.append(f"{c['score']}{cat_row}")
        row += 1
        for unit in units:
            _unit_row(std, sh, plan, unit, row)
            row += 1
        status_ranges.append(f"{c['status']}{r1}:{c['status']}{r2}")

    total_row = row
    sh.put(f"{c['code']}{total_row}", "总分", "total")
    sh.merges.append(f"{c['code']}{total_row}:{c['name']}{total_row}")
    sh.put(f"{c['points']}{total_row}", std.total_points, "total_pts")
    sh.put(f"{c['score']}{total_row}", "=" + "+".join(subtotal_cells), "total_num", formula=True)
    count_formula = "+".join(f'COUNTIF({r},"{grid.STATUS_OK}")' for r in status_ranges)
    sh.put(f"{c['status']}{total_row}", f'={count_formula}&"/"&{n_units}', "total", formula=True)
    sh.put(
        f"{c['requirement']}{total_row}",
        f'=IF(({count_formula})={n_units},"全部条目已评分","尚有条目未完成评分（见“状态”列）")',
        "total",
        formula=True,
    )
    sh.merges.append(f"{c['requirement']}{total_row}:{c['guidance']}{total_row}")
    for key in ("kind", "band", "pct", "band_text", "strengths", "ofi", "evidence"):
        sh.put(f"{c[key]}{total_row}", None, "total")
    sh.row_heights[total_row] = 24
    plan.meta["total_cell"] = f"{SHEET_SCORES}!{c['score']}{total_row}"
    plan.meta["count_formula"] = count_formula
    plan.meta["first_unit_row"] = str(first_unit_row)
    plan.meta["last_row"] = str(total_row)

    # One validation per text column, over all its cells (the prompt and message once, not per row).
    for key in ("strengths", "ofi", "evidence"):
        rows = sorted(int(fields[key].split("!")[1][len(c[key]) :]) for fields in plan.inputs.values())
        sh.validations.append(
            Validation(
                sqref=" ".join(row_runs(c[key], rows)),
                kind="textLength",
                operator="lessThanOrEqual",
                formula1=str(TEXT_MAX),
                prompt_title=TEXT_PROMPTS[key][0],
                prompt=TEXT_PROMPTS[key][1],
                error_title="文字无法接受",
                error=TEXT_ERROR,
            )
        )

    # Conditional formats on the 状态 column only: the state is shown there, and every input cell
    # keeps the one look of an input (yellow) whatever its state: unscored pale grey, inconsistent red.
    body = f"{c['status']}{first_unit_row}:{c['status']}{total_row - 1}"
    st = f"${c['status']}{first_unit_row}"
    sh.cond_formats.append(CondFormat(body, f'{st}="{grid.STATUS_BLANK}"', fill="EDEDED"))
    sh.cond_formats.append(
        CondFormat(
            body,
            f'AND({st}<>"",{st}<>"{grid.STATUS_OK}",{st}<>"{grid.STATUS_BLANK}",ISNUMBER(SEARCH("/",{st}))=FALSE)',
            fill="F8CBAD",
            font_color="9C0006",
        )
    )
    return sh


def row_runs(col: str, rows: list[int]) -> list[str]:
    """'L5:L7', 'L9' …: the rows of one column as runs of consecutive rows."""
    runs: list[str] = []
    start = prev = None
    for r in [*rows, None]:
        if start is not None and (r is None or r != prev + 1):
            runs.append(f"{col}{start}" if start == prev else f"{col}{start}:{col}{prev}")
            start = None
        if r is not None and start is None:
            start = r
        prev = r
    return runs


def _unit_row(std: Standard, sh: Sheet, plan: ScoresheetPlan, unit: ScoringUnit, row: int) -> None:
    c = COL
    s = KIND_SUFFIX[unit.kind]
    r = row
    sh.put(f"{c['code']}{r}", unit.code, "code")
    sh.put(f"{c['name']}{r}", unit_label(std, unit), "text")
    sh.put(f"{c['points']}{r}", unit.points, "center")
    sh.put(f"{c['kind']}{r}", KIND_ZH[unit.kind], "center")
    sh.put(f"{c['requirement']}{r}", unit.requirement, "small")
    guidance = guidance_text(unit)
    sh.put(f"{c['guidance']}{r}", guidance, "small")
    sh.put(f"{c['band']}{r}", None, "input")
    sh.put(f"{c['pct']}{r}", None, "input_pct")
    G, H, J = f"{c['band']}{r}", f"{c['pct']}{r}", f"{c['status']}{r}"
    m = f"MATCH({G},BANDS_{s},0)"
    step = std.grid_step
    status = (
        f'=IF(AND({G}="",{H}=""),"{grid.STATUS_BLANK}",'
        f'IF({G}="","{grid.STATUS_NO_BAND}",'
        f'IF(ISNA({m}),"{grid.STATUS_BAD_BAND}",'
        f'IF({H}="","{grid.STATUS_NO_PCT}",'
        f'IF(NOT(ISNUMBER({H})),"{grid.STATUS_OFF_GRID}",'
        f'IF(OR({H}<0,{H}>100,MOD({H},{step})<>0),"{grid.STATUS_OFF_GRID}",'
        f'IF(OR({H}<INDEX(BMIN_{s},{m}),{H}>INDEX(BMAX_{s},{m})),"{grid.STATUS_OUT_OF_BAND}",'
        f'"{grid.STATUS_OK}")))))))'
    )
    sh.put(J, status, "status", formula=True)
    sh.put(
        f"{c['score']}{r}", f'=IF({J}="{grid.STATUS_OK}",{c["points"]}{r}*{H}/100,"")', "score", formula=True
    )
    sh.put(f"{c['band_text']}{r}", f'=IFERROR(INDEX(BDESC_{s},{m}),"")', "small", formula=True)
    for key in ("strengths", "ofi", "evidence"):
        sh.put(f"{c[key]}{r}", None, "input_text")
    heights = [
        text_height(guidance, WIDTHS["guidance"], 13.5, GUIDANCE_PT),
        text_height(unit.requirement, WIDTHS["requirement"], 13.5, GUIDANCE_PT),
        text_height(
            max(
                (band_description(std, unit.kind, i) for i in range(len(std.guide(unit.kind).bands))), key=len
            ),
            WIDTHS["band_text"],
            13.5,
            GUIDANCE_PT,
        ),
        60.0,
    ]
    sh.row_heights[r] = min(409.0, max(heights))

    labels = grid.band_labels(std, unit.kind)
    guide = std.guide(unit.kind)
    sh.validations.append(
        Validation(
            sqref=G,
            kind="list",
            formula1=f"BANDS_{s}",
            prompt_title=f"{unit.code} 评分区间"[:32],
            prompt=("请选择区间（" + guide.title + "）：\n" + "\n".join(labels))[:255],
            error_title="评分区间无效",
            error=f"请点单元格右侧的 ▼，从列表中选择评分区间（{guide.title}，共 {len(labels)} 档），不要自行输入。",
        )
    )
    sh.validations.append(
        Validation(
            sqref=H,
            kind="list",
            formula1=f'INDIRECT(IF({G}="","PCT_ALL","{s}_"&{m}))',
            prompt_title=f"{unit.code} 得分率%"[:32],
            prompt=f"先选评分区间，再选该区间内的得分率（{step}的整数倍，0–100）。所选区间的描述显示在“所选区间描述”列。"[
                :255
            ],
            error_title="得分率无效",
            error=(
                f"请点 ▼ 从列表中选择得分率：0–100 间 {step} 的整数倍，且在所选评分区间之内"
                f"（如区间 50～65% 可选 50、55、60、65）。只填数字，不带 %，不用小数或公式。"
            ),
        )
    )
    plan.inputs[unit.code] = {key: f"{SHEET_SCORES}!{c[key]}{r}" for key in INPUT_FIELDS}
    plan.inputs[unit.code].update({f"locked_{key}": f"{SHEET_SCORES}!{c[key]}{r}" for key in LOCKED_FIELDS})


def _cover_sheet(std: Standard, issue: Issue, plan: ScoresheetPlan, fp: str) -> Sheet:
    sh = Sheet(SHEET_COVER, tab_color="C00000", landscape=False)
    sh.col_widths.update({"A": 3, "B": 20, "C": 62})
    sh.put("B1", "深圳市市长质量奖 评审评分表", "title")
    sh.merges.append("B1:C1")
    sh.row_heights[1] = 32
    n = len(std.units())
    total_cell = plan.meta["total_cell"].split("!")[1]
    count = plan.meta["count_formula"].replace("COUNTIF(", f"COUNTIF('{SHEET_SCORES}'!")
    kind_zh = APPLICANT_KIND_ZH.get(issue.applicant_kind, issue.applicant_kind)
    rows: list[tuple[str, object, str, str | None]] = [
        ("评审年度", issue.year if issue.year else None, "value", "year"),
        ("奖项类别", f"{std.name_zh}（{std.title}）", "value", None),
        ("评审阶段", issue.stage, "value", None),
        ("申报编号", issue.applicant_id or None, "value", "applicant_id"),
        ("申报组织/项目", issue.applicant_name or None, "value", "applicant_name"),
        ("申报类型", kind_zh if not issue.blank else None, "value", "applicant_kind"),
        ("评审员编号", issue.examiner_id or None, "value", "examiner_id"),
        ("评审员", issue.examiner_name or None, "value", "examiner_name"),
        ("评审日期", None, "input_date", "date"),
        ("利益冲突声明", None, "input", "declaration"),
        ("评分进度", f'="已评 "&({count})&" / {n}"', "value_big", None),
        (
            "总分（满分500）",
            f"=IF(({count})={n},'{SHEET_SCORES}'!{total_cell},\"未完成\")",
            "value_big",
            None,
        ),
        ("已评条目得分合计", f"='{SHEET_SCORES}'!{total_cell}", "value_big", None),
        ("标准版本", f"{std.edition} · 指纹 {fp[:12]}", "value", None),
    ]
    r = 3
    for label, value, style, input_key in rows:
        sh.put(f"B{r}", label, "label")
        is_input = input_key in ("date", "declaration") or (
            issue.blank and input_key is not None and value is None
        )
        st = ("input_date" if input_key == "date" else "input") if is_input else style
        if is_input and input_key not in ("date", "declaration"):
            st = "input_text"
        sh.put(f"C{r}", value, st, formula=isinstance(value, str) and value.startswith("="))
        if input_key is not None and (is_input or input_key in ("year",)):
            plan.cover_inputs[input_key] = f"{SHEET_COVER}!C{r}"
        sh.row_heights[r] = 24
        if input_key == "declaration":
            sh.validations.append(
                Validation(
                    sqref=f"C{r}",
                    kind="list",
                    formula1="DECLARATIONS",
                    prompt_title="利益冲突声明",
                    prompt="评分前请选择声明。存在利益冲突的，请停止评分并联系评审办公室。",
                    error_title="声明无效",
                    error="请点 ▼ 选择两项声明之一，不要自行输入。存在利益冲突的，选择第二项并停止评分。",
                    allow_blank=True,
                )
            )
        if input_key == "date":
            sh.validations.append(
                Validation(
                    sqref=f"C{r}",
                    kind="date",
                    operator="between",
                    formula1="DATE(2000,1,1)",
                    formula2="DATE(2100,12,31)",
                    prompt_title="评审日期",
                    prompt="请输入日期，如 2027-05-20。",
                    error_title="日期无效",
                    error="请输入有效日期，如 2027-05-20。",
                )
            )
        r += 1
    r += 1
    for i, line in enumerate(INSTRUCTIONS):
        sh.put(f"B{r}", line, "label" if i == 0 else "note")
        sh.merges.append(f"B{r}:C{r}")
        sh.row_heights[r] = 20 if i == 0 else text_height(line, 80)
        r += 1
    return sh


def _note_terms(std: Standard) -> tuple:
    """Every term the standard's guide notes (注) define: they qualify the words of both guides' bands."""
    terms = []
    for kind in ("process", "result"):
        for t in std.guide(kind).note_terms():
            if all(t.term != seen.term for seen in terms):
                terms.append(t)
    return tuple(terms)


GUIDE_WIDTHS = {"A": 17, "B": 10, "C": 56, "D": 24}
GUIDE_TEXT_WIDTH = sum(GUIDE_WIDTHS.values())


def _guide_sheet(std: Standard, issue: Issue) -> Sheet:
    """评分指南: how to read the 评审细则, the scoring principles, then each guide's bands with their
    descriptors and, beside them, what the quantity and quality words they use mean (注)."""
    sh = Sheet(SHEET_GUIDE, print_title_rows="1:1", landscape=False)
    sh.col_widths.update(GUIDE_WIDTHS)
    sh.put("A1", f"{std.name_zh} 评分指南", "title")
    sh.merges.append("A1:D1")
    sh.row_heights[1] = 28
    kind = None if issue.blank else issue.applicant_kind
    if kind is not None and kind not in std.applicant_kinds:
        kind = None
    r = 3

    def section(title: str) -> None:
        nonlocal r
        sh.put(f"A{r}", title, "cat")
        sh.merges.append(f"A{r}:D{r}")
        sh.row_heights[r] = 22
        r += 1

    def paragraph(text: str, style: str = "text") -> None:
        nonlocal r
        sh.put(f"A{r}", text, style)
        sh.merges.append(f"A{r}:D{r}")
        sh.row_heights[r] = text_height(text, GUIDE_TEXT_WIDTH)
        r += 1

    number = iter("一二三四五六")
    intro = std.reading_intro(kind)
    if intro:
        who = {None: "", "organisation": "（组织适用）", "project": "（项目适用）"}[kind]
        section(f"{next(number)}、如何阅读{std.detail_intro.title}{who}")
        for text in intro:
            paragraph(text)
        r += 1
    principles = std.principles_text(kind)
    if principles:
        sp = std.scoring_principles
        section(f"{next(number)}、{sp.title}")
        for text in principles:
            paragraph(text)
        for label, factors in (("过程评价因素", sp.process_factors), ("结果评价因素", sp.result_factors)):
            if factors:
                paragraph(f"{label}：" + "；".join(f"{f.code}　{f.name}（{f.name_en}）" for f in factors))
        if sp.considerations:
            paragraph("评价中要考虑以下要求：\n" + "\n".join(f"· {c}" for c in sp.considerations))
        r += 1
    terms = _note_terms(std)
    for guide_kind in ("process", "result"):
        guide = std.guide(guide_kind)
        section(f"{next(number)}、{guide.title}（适用于{KIND_ZH[guide_kind]}条目）")
        heads = ("得分区间%", "水平", "描述", "用语释义（注）" if terms else "")
        for key, head in zip("ABCD", heads, strict=True):
            sh.put(f"{key}{r}", head, "header")
        sh.row_heights[r] = 20
        r += 1
        for band in guide.bands:
            values = grid.band_values(std, band)
            sh.put(f"A{r}", f"{band.min}～{band.max}\n（{'、'.join(map(str, values))}）", "text")
            sh.put(f"B{r}", band.level or "", "text")
            text = "\n".join(band.descriptors)
            sh.put(f"C{r}", text, "text")
            used = terms_in(band.descriptors, terms)
            meanings = "\n".join(f"{t.term}：{t.meaning}" for t in used)
            sh.put(f"D{r}", meanings, "small")
            sh.row_heights[r] = max(
                text_height(text, GUIDE_WIDTHS["C"]), text_height(meanings, GUIDE_WIDTHS["D"]), 40
            )
            r += 1
        if guide.note is not None:
            paragraph("注：\n" + guide.note.text, "note")
        r += 1
    paragraph(
        "相邻区间共用边界值时（如 20%），以评审员所选区间为准；得分率须落在所选区间的闭区间内。", "note"
    )
    return sh


def _glossary_sheet(std: Standard) -> Sheet:
    sh = Sheet(SHEET_GLOSSARY, print_title_rows="1:2", landscape=False)
    sh.col_widths.update({"A": 18, "B": 22, "C": 70})
    sh.put("A1", f"{std.name_zh} 关键术语（附录二）", "title")
    sh.merges.append("A1:C1")
    sh.row_heights[1] = 28
    for key, head in zip("ABC", ("术语", "英文", "释义"), strict=True):
        sh.put(f"{key}2", head, "header")
    r = 3
    entries = [(t.term, t.term_en or "", t.definition) for t in std.glossary]
    if std.profile:
        for v in std.profile.variants:
            label = {"any": "", "organisation": "（组织）", "project": "（项目）"}[v.applies_to]
            entries.append((std.profile.title + label, "简介要点", v.text))
    for term, en, definition in entries:
        sh.put(f"A{r}", term, "text")
        sh.put(f"B{r}", en, "text")
        sh.put(f"C{r}", definition, "text")
        sh.row_heights[r] = max(22.0, text_height(definition, 70))
        r += 1
    return sh


def _meta_sheet(std: Standard, issue: Issue, plan: ScoresheetPlan, fp: str) -> Sheet:
    sh = Sheet(SHEET_META, state="veryHidden")
    meta = {
        "layout_version": LAYOUT_VERSION,
        "award_category": std.id,
        "award_name": std.name_zh,
        "edition": std.edition,
        "fingerprint": fp,
        "year": "" if issue.year is None else str(issue.year),
        "stage": issue.stage,
        "industry": issue.industry,
        "applicant_id": issue.applicant_id,
        "applicant_name": issue.applicant_name,
        "applicant_kind": issue.applicant_kind,
        "examiner_id": issue.examiner_id,
        "examiner_name": issue.examiner_name,
        "issue_id": issue.issue_id,
        "generated_at": issue.generated_at,
        "unit_count": str(len(std.units())),
        "total_cell": plan.meta["total_cell"],
        "last_row": plan.meta["last_row"],
    }
    for key, addr in plan.cover_inputs.items():
        meta[f"cover.{key}"] = addr
    sh.put("A1", "key", "meta")
    sh.put("B1", "value", "meta")
    r = 2
    for key, value in meta.items():
        sh.put(f"A{r}", key, "meta")
        sh.put(f"B{r}", value, "meta")
        r += 1
    r += 1
    sh.put(f"A{r}", "unit", "meta")
    for j, key in enumerate(INPUT_FIELDS + tuple(f"locked_{k}" for k in LOCKED_FIELDS)):
        sh.put(f"{chr(66 + j)}{r}", key, "meta")
    r += 1
    for code, fields in plan.inputs.items():
        sh.put(f"A{r}", code, "meta")
        for j, key in enumerate(INPUT_FIELDS + tuple(f"locked_{k}" for k in LOCKED_FIELDS)):
            sh.put(f"{chr(66 + j)}{r}", fields[key], "meta")
        r += 1
    plan.meta.update(meta)
    return sh


def plan_scoresheet(
    std: Standard, issue: Issue | None = None, previous: PreviousStage | None = None
) -> ScoresheetPlan:
    """Everything an examiner scoresheet contains, as a plan.

    With ``previous`` (a later stage: 集中答辩, 现场核查) two more sheets carry the earlier
    stage's consensus: 上阶段共识 (per unit the consensus %, band, strengths and OFIs, locked) and
    核查要点 (one issue to verify per consensus OFI and strength, with a place for the finding).
    The 评分表 and every address the reader relies on are the same as without them."""
    issue = issue or Issue()
    title = f"{std.name_zh}评分表"
    wb = Workbook(sheets=[], styles=STYLES, title=title)
    plan = ScoresheetPlan(workbook=wb)
    lists = _lists_sheet(std, wb)
    scores = _scores_sheet(std, issue, plan)
    fp = fingerprint(std)  # the edition, on the cover and in the metadata
    cover = _cover_sheet(std, issue, plan, fp)
    meta = _meta_sheet(std, issue, plan, fp)
    extra = [] if previous is None else [_previous_sheet(std, previous), _checks_sheet(std, previous, wb)]
    wb.sheets = [cover, scores, *extra, _guide_sheet(std, issue), _glossary_sheet(std), lists, meta]
    return plan


def _previous_sheet(std: Standard, previous: PreviousStage) -> Sheet:
    sh = Sheet(SHEET_PREVIOUS, freeze="A3", print_title_rows="2:2", tab_color="7F6000")
    sh.put("A1", f"{previous.stage}阶段评审组共识（供本阶段参考，本表锁定）", "title")
    sh.merges.append("A1:G1")
    sh.row_heights[1] = 26
    heads = ("编号", "评分项目", "分值", "共识得分率%", "共识区间", "共识优势", "共识改进机会")
    widths = (7, 16, 6, 10, 16, 45, 45)
    for j, (h, w) in enumerate(zip(heads, widths, strict=True), start=1):
        sh.put(f"{column_letter(j)}2", h, "header")
        sh.col_widths[column_letter(j)] = w
    r = 3
    for u in std.units():
        pu = previous.units.get(u.code) or PreviousUnit(None)
        values = (u.code, unit_label(std, u), u.points, pu.pct, pu.band, pu.strengths, pu.ofi)
        for j, v in enumerate(values, start=1):
            style = "code" if j == 1 else "center" if j in (3, 4, 5) else "text"
            sh.put(f"{column_letter(j)}{r}", v if v != "" else None, style)
        sh.row_heights[r] = min(
            409.0, max(24.0, text_height(pu.strengths or "", 45), text_height(pu.ofi or "", 45))
        )
        r += 1
    return sh


def _checks_sheet(std: Standard, previous: PreviousStage, wb: Workbook) -> Sheet:
    sh = Sheet(SHEET_CHECKS, freeze="A3", print_title_rows="2:2", tab_color="C65911")
    sh.put("A1", f"核查要点：逐条核实{previous.stage}阶段的共识意见，记录核查发现", "title")
    sh.merges.append("A1:G1")
    sh.row_heights[1] = 26
    heads = ("序号", "编号", "评分项目", "类型", "上阶段意见（待核实）", "核查发现 ▼", "核查记录")
    widths = (6, 7, 16, 9, 50, 12, 45)
    for j, (h, w) in enumerate(zip(heads, widths, strict=True), start=1):
        sh.put(f"{column_letter(j)}2", h, "header")
        sh.col_widths[column_letter(j)] = w
    points = check_points(std, previous)
    names = {u.code: unit_label(std, u) for u in std.units()}
    verdicts = ",".join(CHECK_VERDICTS)
    for i, (code, kind, text) in enumerate(points, start=1):
        r = 2 + i
        for j, v in enumerate((i, code, names[code], kind, text), start=1):
            sh.put(f"{column_letter(j)}{r}", v, "code" if j <= 2 else "text")
        sh.put(f"F{r}", None, "input")
        sh.put(f"G{r}", None, "input_text")
        sh.row_heights[r] = max(30.0, text_height(text, 50))
    if points:
        last = 2 + len(points)
        sh.validations.append(
            Validation(
                sqref=f"F3:F{last}",
                kind="list",
                formula1=f'"{verdicts}"',
                prompt_title="核查发现",
                prompt="现场核查后选择：证实 / 部分证实 / 未证实，并在右侧记录依据。",
                error_title="核查发现无效",
                error="请点 ▼ 选择：证实、部分证实或未证实。",
            )
        )
        sh.validations.append(
            Validation(
                sqref=f"G3:G{last}",
                kind="textLength",
                operator="lessThanOrEqual",
                formula1=str(TEXT_MAX),
                prompt_title="核查记录",
                prompt="核查所见、访谈对象、查阅的文件或现场证据。",
                error_title="文字无法接受",
                error=TEXT_ERROR,
            )
        )
    return sh
