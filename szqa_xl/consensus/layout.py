"""Plan of a panel's consensus workbook (共识表) for one applicant: pure code, rendered by ``writer``.

One sheet for the meeting — per unit every examiner's %, the statistics and the
flag, then the inputs: 共识得分率% (pre-filled with the median on the grid,
restricted to the grid), 共识理由, 共识优势 and 共识改进机会 (pre-filled with the
examiners' own comments, each marked with its examiner's id, for the panel to edit
down); per applicant 关键主题, 组长 and 日期.  Unit scores, category subtotals and
the total are native formulas.  Everything but the inputs is locked.  A very
hidden ``_meta`` sheet names the edition, the consolidation and the returns it was
built from (issue id and SHA-256), and the address of every input, as the
scoresheet's does; ``finalize`` reads the file back through those addresses.

The consolidated workbook holds no consensus inputs: the panel workbook is the
one place a consensus is typed, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from szqa_xl.scoresheet.layout import TEXT_ERROR, TEXT_MAX, row_runs, text_height, unit_label
from szqa_xl.standards import grid
from szqa_xl.standards.load import builtin_fingerprint, builtin_standard
from szqa_xl.standards.models import APPLICANT_KIND_ZH, KIND_ZH
from szqa_xl.xlsx.plan import CondFormat, Sheet, Style, Validation, Workbook, column_letter
from szqa_xl.xlsx.textsafe import cell_text

LAYOUT_VERSION = "consensus-1"
SHEET_PANEL = "共识表"
SHEET_LISTS = "_lists"
SHEET_META = "_meta"
HEADER_ROW = 4
INPUTS = ("pct", "reason", "strengths", "ofi")
SIGN_OFF = ("key_themes", "leader", "date")

STYLES: dict[str, Style] = {
    "title": Style(bold=True, size=15, color="1F3864", valign="center"),
    "subtitle": Style(size=10, color="404040", wrap=True, valign="top"),
    "header": Style(
        bold=True, color="FFFFFF", fill="1F4E78", wrap=True, halign="center", valign="center", border=True
    ),
    "code": Style(bold=True, border=True, halign="center", valign="top"),
    "text": Style(border=True, wrap=True, valign="top"),
    "center": Style(border=True, halign="center", valign="top"),
    "int": Style(border=True, halign="center", valign="top", number_format="0"),
    "num": Style(border=True, halign="center", valign="top", number_format="0.0"),
    "flag": Style(border=True, halign="center", valign="top", bold=True, color="C00000"),
    "cat": Style(bold=True, fill="D9E1F2", border=True, valign="center", wrap=True),
    "cat_num": Style(bold=True, fill="D9E1F2", border=True, halign="center", number_format="0.0"),
    "input_pct": Style(
        fill="FFF2CC", border=True, halign="center", valign="top", locked=False, number_format="0"
    ),
    "input_text": Style(fill="FFF2CC", border=True, wrap=True, valign="top", locked=False),
    "input_date": Style(fill="FFF2CC", border=True, locked=False, number_format="yyyy-mm-dd", halign="left"),
    "total": Style(bold=True, size=12, fill="FCE4D6", border=True, valign="center"),
    "total_num": Style(bold=True, size=12, fill="FCE4D6", border=True, halign="center", number_format="0.0"),
    "label": Style(bold=True, fill="F2F2F2", border=True, valign="center"),
    "meta": Style(),
}


@dataclass(frozen=True)
class PanelInput:
    """What one applicant's panel workbook is built from (taken from a consolidation)."""

    year: str
    award_category: str
    stage: str
    applicant_id: str
    applicant_name: str
    applicant_kind: str
    examiners: tuple[tuple[str, str], ...]  # (id, name), in column order
    pcts: dict[tuple[str, str], float | None]  # (unit, examiner id) -> %
    medians: dict[str, float | None]  # unit -> median %
    range_points: dict[str, float | None]
    spread_bands: dict[str, float | None]
    flags: dict[str, bool]
    comments: dict[str, list[tuple[str, str, str]]]  # unit -> [(examiner id, strengths, ofi)]
    built_from: tuple[tuple[str, str], ...]  # (issue id, SHA-256) of every merged return
    consolidation_id: str
    industry: str = ""
    prefill: dict[str, dict[str, object]] = field(
        default_factory=dict
    )  # unit -> input -> value (carried over)
    prefill_sign_off: dict[str, object] = field(default_factory=dict)


@dataclass
class PanelPlan:
    workbook: Workbook
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)  # unit -> input -> "共识表!K5"
    sign_off: dict[str, str] = field(default_factory=dict)  # key_themes/leader/date -> address
    locked: dict[str, object] = field(default_factory=dict)  # address -> value as built (locked cells)
    prefilled: dict[str, object] = field(default_factory=dict)  # address -> value as built (input cells)
    formulas: list[str] = field(default_factory=list)  # addresses of the panel sheet's formulas as built


def suggested(pi: PanelInput, unit: str, step: int) -> float | None:
    """The pre-filled consensus: the median on the grid (halves up), or None without scores."""
    m = pi.medians.get(unit)
    return None if m is None else float(grid.snap(m, step))


def comment_block(entries: list[tuple[str, str]]) -> str:
    """The examiners' texts for one field, each line marked with its examiner: "[E01] …"."""
    lines = []
    for examiner, text in entries:
        for line in str(text).splitlines():
            if line.strip():
                lines.append(f"[{examiner}] {line.strip()}")
    return cell_text("\n".join(lines))[:TEXT_MAX]


def plan_panel(pi: PanelInput) -> PanelPlan:
    std = builtin_standard(pi.award_category)
    wb = Workbook(sheets=[], styles=STYLES, title=f"共识表 {pi.applicant_id}")
    plan = PanelPlan(workbook=wb)
    lists = _lists(std, wb)
    panel = _panel_sheet(std, pi, plan)
    plan.formulas = [c.ref for c in panel.cells if c.formula]
    meta = _meta(std, pi, plan)
    wb.sheets = [panel, lists, meta]
    return plan


def _lists(std, wb: Workbook) -> Sheet:
    sh = Sheet(SHEET_LISTS, state="veryHidden")
    for j, kind in enumerate(("process", "result")):
        s = "P" if kind == "process" else "R"
        c_min, c_lab = column_letter(2 * j + 1), column_letter(2 * j + 2)
        bands = std.guide(kind).bands
        sh.put(f"{c_min}1", f"BMIN_{s}")
        sh.put(f"{c_lab}1", f"BANDS_{s}")
        for i, b in enumerate(bands, start=2):
            sh.put(f"{c_min}{i}", b.min)
            sh.put(f"{c_lab}{i}", b.label)
        last = 1 + len(bands)
        wb.names[f"BMIN_{s}"] = f"'{SHEET_LISTS}'!${c_min}$2:${c_min}${last}"
        wb.names[f"BANDS_{s}"] = f"'{SHEET_LISTS}'!${c_lab}$2:${c_lab}${last}"
    return sh


def _panel_sheet(std, pi: PanelInput, plan: PanelPlan) -> Sheet:
    k = len(pi.examiners)
    heads = ["编号", "评分项目", "分值", "类型"]
    heads += [f"{e}\n{n}" for e, n in pi.examiners]
    heads += [
        "中位数%",
        "极差(分)",
        "区间差",
        "标记",
        "共识得分率% ▼",
        "共识区间",
        "共识得分",
        "共识理由",
        "共识优势",
        "共识改进机会",
    ]
    col = {}
    names = ["code", "name", "points", "kind", *[f"ex{i}" for i in range(k)]]
    names += ["median", "range", "spread", "flag", "pct", "band", "score", "reason", "strengths", "ofi"]
    for j, name in enumerate(names, start=1):
        col[name] = column_letter(j)
    last_col = col["ofi"]
    sh = Sheet(
        SHEET_PANEL, freeze=f"C{HEADER_ROW + 1}", print_title_rows=f"{HEADER_ROW}:{HEADER_ROW}", paper="A3"
    )
    kind_zh = APPLICANT_KIND_ZH.get(pi.applicant_kind, pi.applicant_kind)
    sh.put("A1", cell_text(f"共识表 · {pi.applicant_id} {pi.applicant_name}"), "title")
    sh.merges.append(f"A1:{last_col}1")
    sh.put(
        "A2",
        f"{pi.year}年度 · {std.name_zh}（{kind_zh}） · {pi.stage} · 评审员 {k} 人。黄色单元格由评审组填写："
        "共识得分率默认为评审员中位数（取最近的 5 的倍数），偏离中位数一档及以上须写明共识理由；"
        "共识优势、改进机会已汇集各评审员意见（[编号] 标明出处），请讨论后删改为评审组的共识表述。",
        "subtitle",
    )
    sh.merges.append(f"A2:{last_col}2")
    sh.row_heights[1] = 26
    sh.row_heights[2] = 32
    for name, h in zip(names, heads, strict=True):
        sh.put(f"{col[name]}{HEADER_ROW}", h, "header")
    sh.row_heights[HEADER_ROW] = 32
    widths = {
        "code": 7,
        "name": 14,
        "points": 5,
        "kind": 5,
        "median": 7,
        "range": 7,
        "spread": 6,
        "flag": 5,
        "pct": 9,
        "band": 12,
        "score": 7,
        "reason": 24,
        "strengths": 34,
        "ofi": 34,
    }
    for name in names:
        sh.col_widths[col[name]] = widths.get(name, 8)
    step = std.grid_step
    grid_list = ",".join(str(v) for v in std.grid())
    r = HEADER_ROW + 1
    subtotals = []
    for cat in std.categories:
        units = [u for u in std.units() if u.category_code == cat.code]
        cat_row = r
        sh.put(f"A{r}", cat.code, "cat")
        sh.put(f"B{r}", f"{cat.name}（{cat.detail_name}）" if cat.detail_name else cat.name, "cat")
        sh.put(f"C{r}", cat.points, "cat_num")
        for name in names[3:]:
            if name != "score":
                sh.put(f"{col[name]}{r}", None, "cat")
        r1, r2 = r + 1, r + len(units)
        sh.put(f"{col['score']}{r}", f"=SUM({col['score']}{r1}:{col['score']}{r2})", "cat_num", formula=True)
        plan.locked[f"A{r}"] = cat.code
        subtotals.append(f"{col['score']}{cat_row}")
        r += 1
        for u in units:
            s = "P" if u.kind == "process" else "R"
            label = unit_label(std, u)
            for name, value, style in (
                ("code", u.code, "code"),
                ("name", label, "text"),
                ("points", u.points, "int"),
                ("kind", KIND_ZH[u.kind], "center"),
            ):
                sh.put(f"{col[name]}{r}", value, style)
                plan.locked[f"{col[name]}{r}"] = value
            for i, (e, _n) in enumerate(pi.examiners):
                v = pi.pcts.get((u.code, e))
                sh.put(f"{col[f'ex{i}']}{r}", v, "int")
                plan.locked[f"{col[f'ex{i}']}{r}"] = v
            for name, value, style in (
                ("median", pi.medians.get(u.code), "num"),
                ("range", pi.range_points.get(u.code), "num"),
                ("spread", pi.spread_bands.get(u.code), "int"),
            ):
                sh.put(f"{col[name]}{r}", value, style)
                plan.locked[f"{col[name]}{r}"] = value
            flag = "讨论" if pi.flags.get(u.code) else ""
            sh.put(f"{col['flag']}{r}", flag, "flag")
            carried = pi.prefill.get(u.code, {})
            entries = pi.comments.get(u.code, [])
            values = {
                "pct": carried.get("pct", suggested(pi, u.code, step)),
                "reason": carried.get("reason", None),
                "strengths": carried.get(
                    "strengths", comment_block([(e, st) for e, st, _ in entries]) or None
                ),
                "ofi": carried.get("ofi", comment_block([(e, o) for e, _, o in entries]) or None),
            }
            P = f"{col['pct']}{r}"
            sh.put(P, values["pct"], "input_pct")
            sh.put(
                f"{col['band']}{r}",
                f'=IF({P}="","",LOOKUP({P},BMIN_{s},BANDS_{s}))',
                "center",
                formula=True,
            )
            sh.put(f"{col['score']}{r}", f'=IF({P}="","",C{r}*{P}/100)', "num", formula=True)
            for name in ("reason", "strengths", "ofi"):
                sh.put(f"{col[name]}{r}", values[name], "input_text")
            plan.inputs[u.code] = {name: f"{SHEET_PANEL}!{col[name]}{r}" for name in INPUTS}
            for name in INPUTS:
                plan.prefilled[f"{col[name]}{r}"] = values[name]
            texts = [str(values[n] or "") for n in ("strengths", "ofi")]
            sh.row_heights[r] = min(
                409.0,
                max(
                    30.0,
                    text_height(label, widths["name"]),
                    *(text_height(t, widths["strengths"]) for t in texts),
                ),
            )
            sh.validations.append(
                Validation(
                    sqref=P,
                    kind="list",
                    formula1=f'"{grid_list}"',
                    prompt_title=f"{u.code} 共识得分率%"[:32],
                    prompt=f"评审组商定的得分率（0–100 间 {step} 的整数倍）。默认为评审员中位数。"[:255],
                    error_title="共识得分率无效",
                    error=f"请点 ▼ 从列表中选择：0–100 间 {step} 的整数倍，只填数字，不带 %。",
                )
            )
            r += 1
    total_row = r
    # One validation per text column over all its unit rows (the message once, not per row).
    unit_rows = sorted(int(f["pct"].split("!")[1][len(col["pct"]) :]) for f in plan.inputs.values())
    for name in ("reason", "strengths", "ofi"):
        sh.validations.append(
            Validation(
                sqref=" ".join(row_runs(col[name], unit_rows)),
                kind="textLength",
                operator="lessThanOrEqual",
                formula1=str(TEXT_MAX),
                error_title="文字无法接受",
                error=TEXT_ERROR,
            )
        )
    sh.put(f"A{r}", "总分", "total")
    sh.put(f"B{r}", None, "total")
    sh.put(f"C{r}", std.total_points, "total_num")
    for name in names[3:]:
        if name != "score":
            sh.put(f"{col[name]}{r}", None, "total")
    sh.put(f"{col['score']}{r}", "=" + "+".join(subtotals), "total_num", formula=True)
    sh.row_heights[r] = 24
    first_unit = HEADER_ROW + 1
    sh.cond_formats.append(
        CondFormat(
            f"{col['flag']}{first_unit}:{col['flag']}{total_row - 1}",
            f'${col["flag"]}{first_unit}="讨论"',
            fill="FDE9D9",
        )
    )
    r += 2
    carried = pi.prefill_sign_off
    for key, label, style, height in (
        ("key_themes", "关键主题", "input_text", 120.0),
        ("leader", "组长", "input_text", 22.0),
        ("date", "日期", "input_date", 22.0),
    ):
        sh.put(f"A{r}", label, "label")
        sh.put(f"B{r}", None, "label")
        sh.merges.append(f"A{r}:B{r}")
        value = carried.get(key)
        sh.put(f"C{r}", value, style)
        end = last_col if key == "key_themes" else "F"
        for j in range(4, _col_no(end) + 1):
            sh.put(f"{column_letter(j)}{r}", None, style)
        sh.merges.append(f"C{r}:{end}{r}")
        sh.row_heights[r] = height
        plan.sign_off[key] = f"{SHEET_PANEL}!C{r}"
        plan.prefilled[f"C{r}"] = value
        if key == "date":
            sh.validations.append(
                Validation(
                    sqref=f"C{r}",
                    kind="date",
                    operator="between",
                    formula1="DATE(2000,1,1)",
                    formula2="DATE(2100,12,31)",
                    prompt_title="日期",
                    prompt="评审组形成共识的日期，如 2027-06-18。",
                    error_title="日期无效",
                    error="请输入有效日期，如 2027-06-18。",
                )
            )
        else:
            sh.validations.append(
                Validation(
                    sqref=f"C{r}",
                    kind="textLength",
                    operator="lessThanOrEqual",
                    formula1=str(TEXT_MAX),
                    prompt_title=label,
                    prompt=(
                        "评审组对该申报方的 3–5 个关键主题（最重要的优势与改进方向），每行一条。"
                        if key == "key_themes"
                        else "评审组组长姓名（签认本共识表）。"
                    ),
                    error_title="文字无法接受",
                    error=TEXT_ERROR,
                )
            )
        r += 1
    return sh


def _col_no(letter: str) -> int:
    n = 0
    for ch in letter:
        n = n * 26 + ord(ch) - 64
    return n


def _meta(std, pi: PanelInput, plan: PanelPlan) -> Sheet:
    sh = Sheet(SHEET_META, state="veryHidden")
    rows = [
        ("layout_version", LAYOUT_VERSION),
        ("kind", "consensus"),
        ("award_category", std.id),
        ("fingerprint", builtin_fingerprint(std.id)),
        ("year", pi.year),
        ("stage", pi.stage),
        ("applicant_id", pi.applicant_id),
        ("applicant_name", pi.applicant_name),
        ("applicant_kind", pi.applicant_kind),
        ("industry", pi.industry),
        ("consolidation_id", pi.consolidation_id),
        ("examiners", ";".join(f"{e}={n}" for e, n in pi.examiners)),
    ]
    rows += [(f"sign_off.{k}", v) for k, v in plan.sign_off.items()]
    sh.put("A1", "key", "meta")
    sh.put("B1", "value", "meta")
    r = 2
    for key, value in rows:
        sh.put(f"A{r}", key, "meta")
        sh.put(f"B{r}", cell_text(str(value)), "meta")
        r += 1
    r += 1
    sh.put(f"A{r}", "unit", "meta")
    for j, name in enumerate(INPUTS):
        sh.put(f"{column_letter(2 + j)}{r}", name, "meta")
    r += 1
    for code, fields in plan.inputs.items():
        sh.put(f"A{r}", code, "meta")
        for j, name in enumerate(INPUTS):
            sh.put(f"{column_letter(2 + j)}{r}", fields[name], "meta")
        r += 1
    r += 1
    sh.put(f"A{r}", "issue_id", "meta")
    sh.put(f"B{r}", "sha256", "meta")
    r += 1
    for issue_id, digest in pi.built_from:
        sh.put(f"A{r}", issue_id, "meta")
        sh.put(f"B{r}", digest, "meta")
        r += 1
    return sh
