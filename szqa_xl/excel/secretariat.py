"""The secretariat workbook (``workbook/szqa_secretariat.xlsm``) and the steps its 运行 button runs.

The workbook embeds ``xl/vbaProject.bin`` of the xlwings standalone quickstart template
(copied into ``szqa_xl/data/xlwings_quickstart.xlsm``, see :data:`TEMPLATE_SOURCE`) byte for
byte: the xlwings VBA module (``RunPython``, ``ImportPythonUDFs``) and ``Module1.SampleCall``,
which runs ``import <workbook name>; <workbook name>.main()``.  So a workbook named
``szqa_secretariat.xlsm`` calls :func:`szqa_secretariat.main`, and no VBA of ours exists.

The workbook is a :mod:`szqa_xl.xlsx.plan` rendered by :mod:`szqa_xl.xlsx.writer` (XlsxWriter):

* 说明 — how to set it up on Windows (Chinese);
* 控制 — the step to run (a dropdown of :func:`action_labels`, named ``szqa_action``), the
  form-control button 运行 assigned to ``SampleCall``, and the steps' parameters as named
  cells (:data:`CONTROL_FIELDS`);
* 示例 — the UDFs of :mod:`szqa_xl.udfs` over a small realistic table;
* 汇总数据 — ``szqa_consolidate`` as a spilling dynamic array;
* xlwings.conf — the settings xlwings reads (``UDF Modules`` = ``szqa_xl.udfs``).

The build is deterministic (a fixed creation date; XlsxWriter fixes the zip timestamps), so a
test can check that the committed file is current.  The steps (:data:`ACTIONS`) are plain
Python over a :class:`Control` read from the named cells, and :func:`run_in_book` takes any
object shaped like an xlwings ``Book``, so all of it is tested without Excel.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from szqa_xl.excel.converters import (
    InputError,
    error_text,
    parse_bool,
    parse_float,
    parse_int,
    parse_path,
    parse_year,
)

# -- template --------------------------------------------------------------------------

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
TEMPLATE = DATA_DIR / "xlwings_quickstart.xlsm"
TEMPLATE_XLWINGS_VERSION = "0.37.8"
TEMPLATE_SOURCE = f"xlwings {TEMPLATE_XLWINGS_VERSION} xlwings/quickstart_standalone.xlsm"
"""Where TEMPLATE came from: ``xlwings quickstart --standalone`` copies this very file."""
TEMPLATE_SHA256 = "9234980238cfa47783cd4ed679eb4eee385cbfb075fef9f64a5a3fb6f90d62d5"
VBA_PART = "xl/vbaProject.bin"
RUN_MACRO = "SampleCall"
"""The template's ``Module1.SampleCall``: ``RunPython "import <workbook name>; <workbook name>.main()"``."""
WORKBOOK_CODE_NAME = "ThisWorkbook"
WORKBOOK_FILE = "szqa_secretariat.xlsm"
ENTRY_MODULE = "szqa_secretariat"
"""The module SampleCall imports: the workbook's file name without its extension."""

FIXED_DATE = datetime(2025, 1, 1, 0, 0, 0)

# -- sheet names and named cells ---------------------------------------------------------

SHEET_HELP = "说明"
SHEET_CONTROL = "控制"
SHEET_EXAMPLE = "示例"
SHEET_DATA = "汇总数据"
SHEET_CONF = "xlwings.conf"
SHEET_CODE_NAMES = {SHEET_HELP: "Sheet1", SHEET_CONF: "Sheet2"}
"""The template's document modules ``Sheet1`` and ``Sheet2`` (besides ``ThisWorkbook``) stay bound
to what were its sheets ``Sheet1`` and ``_xlwings.conf``; the other sheets get the next free code
names, for which Excel adds empty document modules."""

ACTION_NAME = "szqa_action"
ACTION_CELL = "B3"
STATUS_NAME = "szqa_status"
REFRESH_NAME = "szqa_refresh"
WORKBOOK_DIR_NAME = "szqa_workbook_dir"
WORKBOOK_DIR_FORMULA = '=IFERROR(LEFT(CELL("filename",A1),FIND("[",CELL("filename",A1))-2),"")'


@dataclass(frozen=True)
class ControlField:
    name: str  # workbook-scoped defined name of the value cell
    label: str
    default: object
    note: str


CONTROL_FIELDS: tuple[ControlField, ...] = (
    ControlField(
        "szqa_roster",
        "名单文件",
        "名单.csv",
        "CSV 或 xlsx，列：applicant_id, applicant_name, award_category, applicant_kind, examiner_id, examiner_name[, stage]",
    ),
    ControlField("szqa_year", "评审年度", 2027, "四位年份"),
    ControlField("szqa_stage", "评审阶段", "材料评审", "名单中没有 stage 列时使用"),
    ControlField(
        "szqa_scoresheets_dir",
        "评分表输出文件夹",
        "1_评分表",
        "「生成评分表」写入此处，并写出发放清单 manifest.csv",
    ),
    ControlField("szqa_returns_dir", "回收文件夹", "2_回收", "评审员交回的评分表放在这里（含子文件夹）"),
    ControlField(
        "szqa_manifest",
        "发放清单",
        "1_评分表/manifest.csv",
        "用于核对回收文件是否为本次发放；留空则不核对",
    ),
    ControlField(
        "szqa_output_dir", "汇总输出文件夹", "3_汇总", "「汇总回收文件」写出 consolidated.xlsx 和 scores.csv"
    ),
    ControlField(
        "szqa_results_dir",
        "定稿输出文件夹",
        "4_定稿",
        "「定稿」读取汇总输出文件夹中 consensus 的共识表，写出 results.xlsx、results.csv 和反馈报告",
    ),
    ControlField(
        "szqa_next_stage", "下一阶段", "现场核查", "「入围名单」为此阶段写出名单（集中答辩 或 现场核查）"
    ),
    ControlField(
        "szqa_shortlist_top",
        "入围名额（每类）",
        3,
        "「入围名单」：每个奖项类别按名次取前 N 名（并列者一并入围）",
    ),
    ControlField(
        "szqa_stage_results",
        "各阶段定稿文件夹",
        "4_定稿;8_定稿",
        "「最终排名」：按阶段顺序列出各阶段的定稿输出文件夹，用分号隔开",
    ),
    ControlField(
        "szqa_rule_file",
        "排名规则文件",
        "排名规则.yaml",
        "「最终排名」：rule（weights 或 last）、stages、weights",
    ),
    ControlField(
        "szqa_archive",
        "归档文件",
        "2027_归档.zip",
        "「归档」把本工作簿所在文件夹（年度文件夹）打包，附 SHA-256 清单",
    ),
    ControlField(
        "szqa_bands_apart",
        "分歧提示：相隔区间数",
        2,
        "评审员最低与最高得分率相隔这么多区间时，标记该评分单元",
    ),
    ControlField(
        "szqa_range_points",
        "分歧提示：分差（分）",
        25,
        "评审员最低与最高得分相差达到这么多分时，标记该评分单元",
    ),
    ControlField(
        "szqa_force", "覆盖已有结果", "否", "是：覆盖已有的汇总结果或重新生成评分表（会产生新的发放编号）"
    ),
    ControlField(REFRESH_NAME, "刷新汇总数据", 1, "改变这个数字，「汇总数据」表会重新读取回收文件夹"),
    ControlField(
        WORKBOOK_DIR_NAME,
        "工作簿所在文件夹",
        WORKBOOK_DIR_FORMULA,
        "自动；上面的相对路径都从这里算起（保存后才有值）",
    ),
    ControlField(STATUS_NAME, "上次运行结果", None, "点击「运行」后在此显示结果"),
)
CONTROL_FIRST_ROW = 5  # row of the first field; label in A, value in B, note in C


def control_cell(name: str) -> str:
    """The A1 address of a named cell on the 控制 sheet, e.g. 'B5'."""
    for i, f in enumerate(CONTROL_FIELDS):
        if f.name == name:
            return f"B{CONTROL_FIRST_ROW + i}"
    raise KeyError(name)


# -- the control sheet as Python -----------------------------------------------------------


@dataclass(frozen=True)
class Control:
    roster: Path | None
    year: int | None
    stage: str
    scoresheets_dir: Path | None
    returns_dir: Path | None
    manifest: Path | None
    output_dir: Path | None
    results_dir: Path | None = None
    next_stage: str = "现场核查"
    shortlist_top: int = 3
    stage_results: tuple[Path, ...] = ()
    rule_file: Path | None = None
    archive: Path | None = None
    year_dir: Path | None = None
    bands_apart: int = 2
    range_points: float = 25.0
    force: bool = False


def read_control(get: Callable[[str], object], base_dir: Path | str | None = None) -> Control:
    """The 控制 sheet's values, ``get(name)`` returning a named cell's value; relative paths from base_dir."""

    def path(name: str, what: str) -> Path | None:
        return parse_path(get(name), what, base_dir)

    stage = get("szqa_stage")
    return Control(
        roster=path("szqa_roster", "名单文件"),
        year=parse_year(get("szqa_year")),
        stage=str(stage).strip() if stage not in (None, "") else "材料评审",
        scoresheets_dir=path("szqa_scoresheets_dir", "评分表输出文件夹"),
        returns_dir=path("szqa_returns_dir", "回收文件夹"),
        manifest=path("szqa_manifest", "发放清单"),
        output_dir=path("szqa_output_dir", "汇总输出文件夹"),
        results_dir=path("szqa_results_dir", "定稿输出文件夹"),
        next_stage=str(get("szqa_next_stage") or "现场核查").strip(),
        shortlist_top=parse_int(get("szqa_shortlist_top"), "入围名额", 3),
        stage_results=tuple(
            p
            for part in str(get("szqa_stage_results") or "").split(";")
            if part.strip() and (p := parse_path(part.strip(), "各阶段定稿文件夹", base_dir)) is not None
        ),
        rule_file=path("szqa_rule_file", "排名规则文件"),
        archive=path("szqa_archive", "归档文件"),
        year_dir=Path(base_dir) if base_dir else None,
        bands_apart=parse_int(get("szqa_bands_apart"), "相隔区间数", 2),
        range_points=parse_float(get("szqa_range_points"), "分差", 25.0),
        force=parse_bool(get("szqa_force"), "覆盖已有结果"),
    )


def run_generate(control: Control) -> str:
    """「生成评分表」: one scoresheet per roster row and a manifest; refuses to re-issue silently."""
    from szqa_xl.scoresheet.generate import generate

    if control.roster is None:
        raise InputError("请在「控制」表填写名单文件")
    if control.year is None:
        raise InputError("请在「控制」表填写评审年度")
    if control.scoresheets_dir is None:
        raise InputError("请在「控制」表填写评分表输出文件夹")
    if not control.roster.is_file():
        raise InputError(f"名单文件不存在：{control.roster}")
    manifest = control.scoresheets_dir / "manifest.csv"
    if manifest.exists() and not control.force:
        raise InputError(
            f"{manifest} 已存在（已经发放过）。重新生成会产生新的发放编号，已发出的评分表将对不上清单。"
            "如确需重新生成，请把「覆盖已有结果」改为 是，或换一个输出文件夹。"
        )
    result = generate(control.roster, control.year, control.scoresheets_dir, stage=control.stage)
    if result.problems:
        shown = "\n".join(f"· {p.message}" for p in result.problems[:10])
        more = f"\n……共 {len(result.problems)} 处" if len(result.problems) > 10 else ""
        return f"{_stamp()} 名单有 {len(result.problems)} 处问题，未生成任何文件：\n{shown}{more}"
    return (
        f"{_stamp()} 已生成 {len(result.files)} 份评分表：{control.scoresheets_dir}\n"
        f"发放清单：{result.manifest}"
    )


def run_consolidate(control: Control, workers: int = 2) -> str:
    """「汇总回收文件」: consolidated.xlsx and scores.csv, exactly as ``szqa consolidate`` writes them."""
    from szqa_xl.consolidation.batch import consolidate_dir
    from szqa_xl.consolidation.core import Thresholds

    if control.returns_dir is None:
        raise InputError("请在「控制」表填写回收文件夹")
    if control.output_dir is None:
        raise InputError("请在「控制」表填写汇总输出文件夹")
    if not control.returns_dir.is_dir():
        raise InputError(f"回收文件夹不存在：{control.returns_dir}")
    if control.manifest is not None and not control.manifest.is_file():
        raise InputError(f"发放清单不存在：{control.manifest}（不核对发放清单时请清空此格）")
    targets = [control.output_dir / "consolidated.xlsx", control.output_dir / "scores.csv"]
    if not control.force and any(t.exists() for t in targets):
        raise InputError(
            f"{control.output_dir} 中已有汇总结果；如需覆盖，请把「覆盖已有结果」改为 是，或换一个输出文件夹"
        )
    cons = consolidate_dir(
        control.returns_dir,
        manifest=control.manifest,
        year=control.year,
        thresholds=Thresholds(control.bands_apart, control.range_points),
        workers=workers,
    )
    from szqa_xl.consensus.build import write_all

    paths, panels = write_all(cons, control.output_dir, force=control.force, workers=workers)
    c = cons.counts()
    flagged = int(cons.stats["flag"].sum()) if len(cons.stats) else 0
    lines = [
        f"{_stamp()} 已合并 {c['accepted'] + c['incomplete']} 份（其中未完成 {c['incomplete']} 份），"
        f"拒收 {c['rejected']}，重复 {c['duplicate']}，未返回 {c['missing']}，跳过 {c['skipped']}；"
        f"申报方 {len(cons.applicants)} 个，需讨论的评分单元 {flagged} 个。",
        f"汇总：{paths['workbook']}",
        f"共识表：{panels.folder}（每个申报方一份，由评审组填写；已填写的不会被覆盖）",
    ]
    for o in panels.affected():
        lines.append(
            f"· 回收文件有变化：{o.path.name}" + (f"，更新统计见 {o.updated.name}" if o.updated else "")
        )
    bad = [r for r in cons.returns if r.status in ("rejected", "duplicate")]
    for r in bad[:5]:
        reason = r.reasons.splitlines()[0] if r.reasons else ""
        lines.append(f"· {r.file}：{reason}")
    if len(bad) > 5:
        lines.append(f"……另有 {len(bad) - 5} 个文件，见 consolidated.xlsx 的回收情况表")
    return "\n".join(lines)


def run_finalize(control: Control, workers: int = 2) -> str:
    """「定稿」: the panels' consensus workbooks read back, exactly as ``szqa finalize`` does."""
    from szqa_xl.consensus.build import FOLDER_NAME
    from szqa_xl.consensus.finalize import finalize_dir
    from szqa_xl.consensus.results import finalize_outputs

    if control.output_dir is None or control.results_dir is None:
        raise InputError("请在「控制」表填写汇总输出文件夹和定稿输出文件夹")
    folder = control.output_dir / FOLDER_NAME
    if not folder.is_dir():
        raise InputError(f"共识表文件夹不存在：{folder}（请先运行「汇总回收文件」）")
    fin = finalize_dir(folder, year=None if control.year is None else str(control.year), workers=workers)
    try:
        targets = finalize_outputs(fin, control.results_dir, force=control.force)
    except FileExistsError:
        raise InputError(
            f"{control.results_dir} 中已有评审结果；如需覆盖，请把「覆盖已有结果」改为 是，或换一个输出文件夹"
        ) from None
    bad = [(n, st, probs) for n, st, probs in fin.reads if st != "accepted"]
    lines = [
        f"{_stamp()} 已定稿 {len(fin.records)} 份共识表，拒收 {len(bad)}，缺失 {len(fin.missing)}。",
        f"评审结果：{targets['workbook']}",
        f"反馈报告：{targets['feedback']}"
        if "feedback" in targets
        else "反馈报告：未生成（未安装 python-docx）",
    ]
    for name, _st, probs in bad[:5]:
        lines.append(f"· {name}：{probs[0].where} {probs[0].message}" if probs else f"· {name}")
    for _key, name in fin.missing[:5]:
        lines.append(f"· 缺失：{name}")
    return "\n".join(lines)


def run_shortlist(control: Control) -> str:
    """「入围名单」: the next stage's roster from the results, as ``szqa shortlist --top N`` writes it."""
    from szqa_xl.stages.shortlist import next_roster, shortlist
    from szqa_xl.xlsx.atomic import write_text

    if control.results_dir is None or not (control.results_dir / "results.csv").is_file():
        raise InputError(f"定稿输出文件夹中没有 results.csv：{control.results_dir}（请先运行「定稿」）")
    if control.shortlist_top < 1:
        raise InputError("入围名额须为正整数")
    sl = shortlist(control.results_dir, top=control.shortlist_top)
    text, problems = next_roster(sl, control.next_stage)
    if problems:
        raise InputError("；".join(p.message for p in problems[:3]))
    out = control.results_dir / f"{control.next_stage}名单.csv"
    if out.exists() and not control.force:
        raise InputError(f"{out} 已存在；如需覆盖，请把「覆盖已有结果」改为 是")
    write_text(out, text, encoding="utf-8-sig")
    lines = [f"{_stamp()} {control.next_stage}名单：{out}（{sl.rule}）"]
    for award in dict.fromkeys(c.award_category for c in sl.candidates):
        chosen = [c for c in sl.chosen if c.award_category == award]
        lines.append(
            f"· {award}：" + "、".join(f"{c.rank}. {c.applicant_name}（{c.total:.1f}）" for c in chosen)
        )
    return "\n".join(lines)


def run_final_ranking(control: Control) -> str:
    """「最终排名」: every stage's results by the rule file, as ``szqa final-ranking`` writes them."""
    from szqa_xl.stages.final import final_csv, final_ranking, load_rule, plan_final
    from szqa_xl.xlsx.atomic import atomic_path, write_text
    from szqa_xl.xlsx.writer import write

    if control.rule_file is None or not control.rule_file.is_file():
        raise InputError(f"排名规则文件不存在：{control.rule_file}")
    missing = [str(p) for p in control.stage_results if not (p / "results.csv").is_file()]
    if not control.stage_results or missing:
        raise InputError(f"各阶段定稿文件夹中缺少 results.csv：{'；'.join(missing) or '未填写'}")
    try:
        rule = load_rule(control.rule_file)
    except ValueError as exc:
        raise InputError(f"排名规则文件有误：{exc}") from None
    rows = final_ranking(list(control.stage_results), rule)
    folder = (control.year_dir or control.rule_file.parent) / "最终排名"
    targets = [folder / "final.xlsx", folder / "final.csv"]
    if any(t.exists() for t in targets) and not control.force:
        raise InputError(f"{folder} 中已有最终排名；如需覆盖，请把「覆盖已有结果」改为 是")
    write_text(targets[1], final_csv(rows, rule), encoding="utf-8-sig")
    with atomic_path(targets[0]) as tmp:
        write(plan_final(rows, rule), tmp)
    return f"{_stamp()} 最终排名：{targets[0]}（{rule.describe()}）"


def run_archive(control: Control) -> str:
    """「归档」: the year folder (this workbook's) packed with its SHA-256 manifest, as ``szqa archive``."""
    from szqa_xl.stages.archive import ArchiveError, build_archive

    if control.year_dir is None or control.archive is None:
        raise InputError("请先保存本工作簿，并在「控制」表填写归档文件")
    try:
        rep = build_archive(control.year_dir, control.archive, force=control.force)
    except FileExistsError:
        raise InputError(f"{control.archive} 已存在；如需覆盖，请把「覆盖已有结果」改为 是") from None
    except ArchiveError as exc:
        raise InputError(str(exc)) from None
    return f"{_stamp()} {rep.summary()}"


def open_output(control: Control) -> str:
    """「打开输出文件夹」: the consolidated output folder in Explorer (Finder, or the desktop's file manager)."""
    folder = control.output_dir
    if folder is None:
        raise InputError("请在「控制」表填写汇总输出文件夹")
    if not folder.is_dir():
        raise InputError(f"汇总输出文件夹尚不存在：{folder}（请先运行「汇总回收文件」）")
    if sys.platform.startswith("win"):
        os.startfile(folder)  # type: ignore[attr-defined]  # Windows only
    else:
        subprocess.Popen(["open" if sys.platform == "darwin" else "xdg-open", str(folder)])
    return ""


@dataclass(frozen=True)
class Action:
    """A step the 运行 button can run: its text in the 控制 sheet's dropdown and what it does."""

    label: str
    run: Callable[[Control], str]


ACTIONS: dict[str, Action] = {
    "generate": Action("生成评分表", run_generate),
    "consolidate": Action("汇总回收文件", run_consolidate),
    "finalize": Action("定稿", run_finalize),
    "shortlist": Action("入围名单", run_shortlist),
    "final_ranking": Action("最终排名", run_final_ranking),
    "archive": Action("归档", run_archive),
    "open_output": Action("打开输出文件夹", open_output),
}
"""Every step, in dropdown order; a new step is one entry here (then ``szqa build-workbooks``)."""


def action_labels() -> tuple[str, ...]:
    """The steps as the dropdown lists them, which are exactly the steps :func:`run_in_book` knows."""
    return tuple(a.label for a in ACTIONS.values())


def action_for(label: object) -> str:
    """The key in :data:`ACTIONS` of a step chosen in the dropdown."""
    text = "" if label is None else str(label).strip()
    for key, a in ACTIONS.items():
        if a.label == text:
            return key
    choices = "、".join(action_labels())
    if not text:
        raise InputError(f"请在「控制」表 {ACTION_CELL} 选择要运行的步骤（{choices}）")
    raise InputError(f"「控制」表 {ACTION_CELL} 的“{text}”不是可运行的步骤；请从下拉列表选择：{choices}")


def run_action(action: str, control: Control) -> str:
    return ACTIONS[action].run(control)


ALERT_TITLE = "深圳市市长质量奖评审"


def run_in_book(book, action: str | None = None) -> str:
    """Run one step for a workbook and report it there, as the 运行 button does.

    ``book`` is an xlwings ``Book`` (or any object with its ``names(name).refers_to_range.value``,
    ``fullname`` and ``app.alert``).  The step is ``action`` (a key of :data:`ACTIONS`) or, by
    default, the one chosen in ``szqa_action``; its parameters are the 控制 sheet's named cells,
    relative paths taken from the workbook's folder.  Every failure becomes the message: it is
    written to ``szqa_status``, shown in a message box, and returned.
    """

    def get(name: str) -> object:
        return book.names(name).refers_to_range.value

    try:
        key = action if action is not None else action_for(get(ACTION_NAME))
        control = read_control(get, base_dir=_book_folder(book.fullname))
        message = run_action(key, control)
    except Exception as exc:  # the clerk sees every failure, in the status cell and a message box
        message = error_text(exc)
    try:
        book.names(STATUS_NAME).refers_to_range.value = message
    except Exception:  # a renamed status cell must not hide the message
        pass
    if message:
        book.app.alert(message, title=ALERT_TITLE)
    return message


def _book_folder(fullname: object) -> Path | None:
    """The folder of a saved workbook; None for one never saved (its name has no folder)."""
    path = Path(str(fullname or ""))
    return path.parent if path.is_absolute() else None


def _stamp() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M")


# -- the workbook's contents --------------------------------------------------------------

CONF_ROWS: tuple[tuple[str, object, str], ...] = (
    (
        "Interpreter_Win",
        None,
        "必填：虚拟环境中 pythonw.exe 的完整路径，如 C:\\szqa\\.venv\\Scripts\\pythonw.exe。"
        "留空时使用 PATH 上的 pythonw，且不会采用 xlwings 加载项里设置的解释器。",
    ),
    ("Interpreter_Mac", None, "仅 macOS 使用；Windows 上留空。"),
    ("PYTHONPATH", None, "用 pip 安装 szqa-xl 后无需填写。"),
    ("Conda Path", None, "只在使用 Anaconda/Miniconda 时填写，如 C:\\Users\\用户名\\miniconda3。"),
    ("Conda Env", None, "只在使用 conda 时填写环境名，如 szqa。"),
    ("UDF Modules", "szqa_xl.udfs", "Excel 函数所在的 Python 模块，勿改。"),
    ("Debug UDFs", False, "排查函数问题时可改为 TRUE（需另外手动启动 Python）。"),
    ("Use UDF Server", False, "保持 FALSE。"),
    ("Show Console", False, "改为 TRUE 可在运行时显示命令行窗口，便于排查。"),
)
"""The xlwings.conf sheet: key (column A, spelt as xlwings reads it), value (B), note (C, not read)."""

CONF_HELP = (
    "说明：xlwings 从 A1 起向下读取 A 列（设置名）和 B 列（值），遇到空行停止；C 列的说明不会被读取。",
    "本表中的设置优先于 xlwings 加载项（%USERPROFILE%\\.xlwings\\xlwings.conf）和工作簿同一文件夹中的 xlwings.conf 文件。",
    "删除某一行后，xlwings 才会转而使用加载项或 xlwings.conf 文件中的同名设置。",
    f"本工作簿的 VBA 部分来自 {TEMPLATE_SOURCE}，须与电脑上安装的 xlwings {TEMPLATE_XLWINGS_VERSION} 版本一致。",
)


def help_lines() -> tuple[str, ...]:
    """The 说明 sheet, one line per row (a heading starts with 一、二、…)."""
    steps = " / ".join(action_labels())
    return (
        "深圳市市长质量奖 · 评审秘书处工作簿",
        "",
        "本工作簿用 Python（szqa-xl 与 xlwings）生成评分表、汇总回收文件，并提供评分计算函数。",
        "只在 Windows 版 Excel（Microsoft 365 或 Excel 2021 及以上）中使用；WPS 和 LibreOffice 不能运行其中的宏和函数。",
        "",
        "一、安装（每台电脑一次）",
        "1. 安装 Python 3.11 或以上（python.org 下载 Windows 安装程序，勾选“Add python.exe to PATH”）。",
        "2. 打开“命令提示符”，建立虚拟环境：py -3.11 -m venv C:\\szqa\\.venv",
        f'3. 安装：C:\\szqa\\.venv\\Scripts\\pip install szqa-xl "xlwings=={TEMPLATE_XLWINGS_VERSION}"'
        "（或安装秘书处提供的 .whl 文件；xlwings 版本必须与本工作簿一致）。",
        "4. （可选）安装 xlwings 加载项：C:\\szqa\\.venv\\Scripts\\xlwings addin install，Excel 中会出现 xlwings 选项卡。",
        "5. Excel：文件 → 选项 → 信任中心 → 信任中心设置 → 宏设置：勾选“信任对 VBA 工程对象模型的访问”（导入函数时需要）。",
        "6. 若本文件来自网络或邮件：在资源管理器中右键本文件 → 属性 → 勾选“解除锁定”，否则 Excel 会阻止宏。",
        "",
        "二、设置本工作簿",
        f"7. 文件名必须保持 {WORKBOOK_FILE}（不要改名，也不要用“副本”“(1)”之类的文件名）："
        f"「运行」按钮按文件名调用 Python 模块 {ENTRY_MODULE}。",
        "8. 打开本工作簿，点击“启用内容”。无需导入任何 VBA 代码，也无需自己添加按钮。",
        "9. 在「xlwings.conf」表的 B1（Interpreter_Win）填写：C:\\szqa\\.venv\\Scripts\\pythonw.exe（按实际路径）。",
        "10. 导入函数：按 Alt+F8，选择 ImportPythonUDFs 并运行（装了加载项也可点 xlwings 选项卡 → Import Functions）；"
        "然后按 Ctrl+Alt+F9 重新计算。「示例」表中的 #NAME? 会变成计算结果。只用「运行」按钮时可跳过此步。",
        "11. 保存（保持 .xlsm 格式，即“启用宏的工作簿”）。",
        "",
        "三、使用",
        "12. 在「控制」表填写名单文件、评审年度、各文件夹（相对路径从本工作簿所在文件夹算起）。",
        f"13. 在「控制」表 {ACTION_CELL} 的下拉列表中选择要运行的步骤（{steps}），点击「运行」按钮；"
        "结果显示在“上次运行结果”，并弹出提示。",
        "14. 顺序：生成评分表 → 把评分表发给评审员 → 把交回的文件放进回收文件夹 → 汇总回收文件 → 评审组在共识表中形成共识 → 定稿 → 打开输出文件夹。",
        "15. 「汇总数据」表用 szqa_consolidate 函数列出全部评分（与 scores.csv 相同）；改变「控制」表的“刷新汇总数据”即重新读取。",
        "",
        "四、Excel 函数",
        "szqa_weighted_total(分值区域, 得分率区域[, 奖项类别])：加权总分；有空白时显示“未完成（已评 n/m）”。",
        "szqa_band(得分率, 奖项类别, 过程/结果[, TRUE])：得分率所在区间；第四个参数为 TRUE 时在共享边界列出两个区间。",
        "szqa_consensus(一行得分率[, 奖项类别])：中位数取到最近的网格值，作为默认共识得分率。",
        "szqa_spread(一行得分率, 奖项类别, 过程/结果)：最低与最高得分率相隔几个区间。",
        "szqa_consolidate(回收文件夹[, 发放清单, 年度, 刷新, 起始文件夹])：回收文件汇总表（动态数组）。",
        "输入有误时函数显示以“错误：”开头的说明，而不是 Excel 错误值。",
        "",
        "五、排查",
        "· “Could not load xlwings64-….dll”：Interpreter_Win 路径不对，或安装的 xlwings 版本与本工作簿不一致。",
        f"· “No module named '{ENTRY_MODULE}'”或“invalid syntax”：文件名被改动（第 7 步），"
        "或 Interpreter_Win 指向的环境中没有安装 szqa-xl。",
        "· #NAME?：尚未导入函数（第 10 步），或导入后未重新计算。",
        "· 「运行」无反应：检查宏是否被禁用（第 6、8 步）；在「xlwings.conf」表把 Show Console 改为 TRUE 查看出错信息。",
        "",
        f"模板：{TEMPLATE_SOURCE}（sha256 {TEMPLATE_SHA256[:16]}…），VBA 部分原样保留（「运行」按钮调用其中的 {RUN_MACRO}）。"
        "本工作簿由 szqa build-workbooks 生成，请勿手工修改后提交。",
    )


# The example: economic category, one applicant, five examiners (E01–E05).  E03 left two
# units blank (so the total reads 未完成), unit 2.3 shows a real disagreement.
EXAMPLE_AWARD = "经济类"
EXAMPLE_EXAMINERS = ("E01", "E02", "E03", "E04", "E05")
EXAMPLE_PCTS: dict[str, tuple[int | None, ...]] = {
    "1.1": (70, 75, 65, 80, 70),
    "1.2": (65, 60, 65, 70, 55),
    "1.3": (60, 55, 60, 65, 50),
    "2.1": (55, 60, 50, 65, 55),
    "2.2": (60, 65, None, 70, 60),
    "2.3": (30, 50, 45, 75, 40),
    "3.1": (75, 80, 70, 85, 75),
    "3.2": (70, 65, 70, 75, 60),
    "3.3": (65, 70, 60, 75, 65),
    "4.1": (50, 55, 45, 60, 50),
    "4.2": (55, 50, 55, 65, 45),
    "4.3": (45, 50, None, 55, 40),
    "5.1": (65, 60, 65, 75, 60),
    "5.2": (60, 65, 55, 70, 55),
    "5.3": (50, 55, 50, 60, 45),
    "6.1": (70, 70, 65, 80, 65),
    "6.2": (65, 70, 60, 75, 60),
    "6.3": (55, 60, 55, 65, 50),
}
EXAMPLE_FIRST_ROW = 3


@dataclass(frozen=True)
class BandCheck:
    """A row of 示例's input checks: ``=szqa_band(value, award, kind[, TRUE])`` and its result."""

    label: str
    value: object
    award: str
    kind: str
    all_bands: bool = False

    def formula(self, ref: str) -> str:
        return f'=szqa_band({ref},"{self.award}","{self.kind}"{",TRUE" if self.all_bands else ""})'

    def expected(self) -> object:
        from szqa_xl import udfs

        return udfs.szqa_band(self.value, self.award, self.kind, self.all_bands)


EXAMPLE_CHECKS: tuple[BandCheck, ...] = (
    BandCheck("文字“80%”", "80%", "经济类", "过程"),
    BandCheck("百分比格式的 0.85", 0.85, "经济类", "结果"),
    BandCheck("非网格值 42", 42, "经济类", "过程"),
    BandCheck("文化类共享边界 20", 20, "文化类", "过程", all_bands=True),
    BandCheck("指南类型写错", 60, "经济类", "过程类别"),
    BandCheck("奖项类别写错", 60, "金融类", "过程"),
)
DATA_FORMULA = (
    f"=szqa_consolidate(szqa_returns_dir,szqa_manifest,szqa_year,{REFRESH_NAME},{WORKBOOK_DIR_NAME})"
)
DATA_ANCHOR = "A4"

RUN_BUTTON_CAPTION = "运行"
RUN_BUTTON_CELL = "C3"


def template_sha256() -> str:
    return hashlib.sha256(TEMPLATE.read_bytes()).hexdigest()


# -- the plan -------------------------------------------------------------------------------


def _styles() -> dict:
    from szqa_xl.xlsx.plan import Style

    head, inp, calc, note = "D9E1F2", "FFF2CC", "E2EFDA", "595959"
    return {
        "title": Style(bold=True, size=14, color="1F3864"),
        "title_wrap": Style(bold=True, size=14, color="1F3864", wrap=True),
        "heading": Style(bold=True, size=11, wrap=True),
        "text": Style(size=11, wrap=True),
        "bold": Style(bold=True, size=11),
        "normal": Style(size=11),
        "note": Style(size=10, color=note),
        "note_wrap": Style(size=10, color=note, wrap=True),
        "head": Style(bold=True, size=11, fill=head),
        "head_center": Style(bold=True, size=11, fill=head, halign="center", valign="center"),
        "input": Style(size=11, fill=inp),
        "input_pct": Style(size=11, fill=inp, number_format="0%"),
        "input_value": Style(size=11, fill=inp, wrap=True, halign="left"),
        "calc": Style(size=11, fill=calc),
        "calc_value": Style(size=11, fill=calc, wrap=True, halign="left"),
    }


def _is_heading(line: str) -> bool:
    return len(line) > 1 and line[0] in "一二三四五六七八九十" and line[1] == "、"


def _help_sheet():
    from szqa_xl.xlsx.plan import Cell, Sheet

    cells = []
    for r, line in enumerate(help_lines(), start=1):
        if line:
            style = "title_wrap" if r == 1 else "heading" if _is_heading(line) else "text"
            cells.append(Cell(f"A{r}", line, style))
    return Sheet(SHEET_HELP, cells, col_widths={"A": 120}, protect=False, landscape=False)


def _control_sheet():
    from szqa_xl.xlsx.plan import Button, Cell, Sheet, Validation

    cells = [
        Cell("A1", "评审秘书处 · 控制面板", "title"),
        Cell(
            "A2",
            f"先填写下面的黄色单元格，再在 {ACTION_CELL} 选择要运行的步骤，点击「{RUN_BUTTON_CAPTION}」。"
            "相对路径从本工作簿所在文件夹算起。",
            "note",
        ),
        Cell("A3", "要运行的步骤", "bold"),
        Cell(ACTION_CELL, action_labels()[0], "input"),
    ]
    for col, head in zip("ABC", ("项目", "设置", "说明"), strict=True):
        cells.append(Cell(f"{col}{CONTROL_FIRST_ROW - 1}", head, "head"))
    for f in CONTROL_FIELDS:
        ref = control_cell(f.name)
        row = int(ref[1:])
        computed = f.name in (WORKBOOK_DIR_NAME, STATUS_NAME)
        is_formula = isinstance(f.default, str) and f.default.startswith("=")
        cells.append(Cell(f"A{row}", f.label, "bold"))
        cells.append(Cell(ref, f.default, "calc_value" if computed else "input_value", formula=is_formula))
        cells.append(Cell(f"C{row}", f.note, "note_wrap"))
    steps = "、".join(action_labels())
    validations = [
        Validation(
            ACTION_CELL,
            "list",
            '"' + ",".join(action_labels()) + '"',
            prompt_title="要运行的步骤",
            prompt=f"选择后点击「{RUN_BUTTON_CAPTION}」",
            error=f"请从下拉列表中选择：{steps}",
            allow_blank=False,
        ),
        Validation(control_cell("szqa_force"), "list", '"是,否"'),
        Validation(control_cell("szqa_stage"), "list", '"材料评审,现场评审"', show_error=False),
    ]
    return Sheet(
        SHEET_CONTROL,
        cells,
        col_widths={"A": 22, "B": 44, "C": 80},
        row_heights={3: 24, int(control_cell(STATUS_NAME)[1:]): 90},
        validations=validations,
        buttons=[Button(RUN_BUTTON_CELL, RUN_BUTTON_CAPTION, RUN_MACRO, width_px=96, height_px=30)],
        protect=False,
    )


def _example_sheet():
    from szqa_xl import udfs
    from szqa_xl.excel.converters import parse_award
    from szqa_xl.xlsx.plan import Cell, Sheet, column_letter

    std = parse_award(EXAMPLE_AWARD)
    units = std.units()
    n = len(units)
    first, last = EXAMPLE_FIRST_ROW, EXAMPLE_FIRST_ROW + n - 1
    cells = [
        Cell("A1", "奖项类别", "bold"),
        Cell("B1", EXAMPLE_AWARD, "input"),
        Cell("C1", "示例：申报方 EC-001 的五位评审员得分率（黄色可改）；绿色为 szqa 函数的计算结果", "note"),
    ]
    ex_cols = [column_letter(5 + i) for i in range(len(EXAMPLE_EXAMINERS))]
    c_cons, c_band, c_spread, c_score = (column_letter(5 + len(ex_cols) + i) for i in range(4))
    heads = [
        "编号",
        "评分单元",
        "指南",
        "分值",
        *EXAMPLE_EXAMINERS,
        "共识得分率",
        "共识区间",
        "分歧（区间）",
        "共识得分",
    ]
    cells += [Cell(f"{column_letter(i)}2", h, "head_center") for i, h in enumerate(heads, start=1)]
    for r, u in zip(range(first, last + 1), units, strict=True):
        cells += [
            Cell(f"A{r}", u.code, "normal"),
            Cell(f"B{r}", u.name, "normal"),
            Cell(f"C{r}", "过程" if u.kind == "process" else "结果", "normal"),
            Cell(f"D{r}", u.points, "normal"),
        ]
        cells += [
            Cell(f"{col}{r}", pct, "input") for col, pct in zip(ex_cols, EXAMPLE_PCTS[u.code], strict=True)
        ]
        row_range = f"{ex_cols[0]}{r}:{ex_cols[-1]}{r}"
        for col, formula in (
            (c_cons, f"=szqa_consensus({row_range},$B$1)"),
            (c_band, f"=szqa_band({c_cons}{r},$B$1,C{r})"),
            (c_spread, f"=szqa_spread({row_range},$B$1,C{r})"),
            (c_score, f'=IFERROR(D{r}*{c_cons}{r}/100,"")'),
        ):
            cells.append(Cell(f"{col}{r}", formula, "calc", formula=True))
    total, expect = last + 1, last + 2
    cells += [
        Cell(f"A{total}", "加权总分", "bold"),
        Cell(f"D{total}", f"=SUM(D{first}:D{last})", "normal", formula=True),
        Cell(f"A{expect}", "预期结果（Python 计算，供核对）", "note"),
    ]
    points = [[u.points] for u in units]
    for i, col in enumerate([*ex_cols, c_cons]):
        formula = f"=szqa_weighted_total($D${first}:$D${last},{col}{first}:{col}{last},$B$1)"
        cells.append(Cell(f"{col}{total}", formula, "calc", formula=True))
        if col == c_cons:
            column = [[udfs.szqa_consensus([list(EXAMPLE_PCTS[u.code])], EXAMPLE_AWARD)] for u in units]
        else:
            column = [[EXAMPLE_PCTS[u.code][i]] for u in units]
        cells.append(Cell(f"{col}{expect}", udfs.szqa_weighted_total(points, column, EXAMPLE_AWARD), "note"))

    top = expect + 2
    cells.append(Cell(f"A{top}", "输入检查示例", "bold"))
    for i, h in enumerate(("情形", "输入", "函数结果", "预期结果（Python 计算）"), start=1):
        cells.append(Cell(f"{column_letter(i)}{top + 1}", h, "head"))
    for j, check in enumerate(EXAMPLE_CHECKS):
        r = top + 2 + j
        cells += [
            Cell(f"A{r}", check.label, "normal"),
            Cell(f"B{r}", check.value, "input_pct" if isinstance(check.value, float) else "input"),
            Cell(f"C{r}", check.formula(f"B{r}"), "calc", formula=True),
            Cell(f"D{r}", check.expected(), "note"),
        ]
    widths = {"A": 26, "B": 16, "C": 26, "D": 22}
    widths.update({col: 7 for col in ex_cols})
    widths.update({c_cons: 11, c_band: 14, c_spread: 12, c_score: 10})
    return Sheet(SHEET_EXAMPLE, cells, col_widths=widths, freeze=f"C{first}", protect=False)


def _data_sheet():
    from szqa_xl.xlsx.plan import Cell, Sheet

    cells = [
        Cell("A1", "回收文件汇总数据（与 scores.csv 相同，每个评分单元一行）", "title"),
        Cell(
            "A2",
            "下面的 szqa_consolidate 公式读取「控制」表的回收文件夹和发放清单，结果自动向下向右溢出；"
            "改变「控制」表的“刷新汇总数据”即重新读取。请勿在公式下方和右侧填写内容。",
            "note",
        ),
        Cell(DATA_ANCHOR, DATA_FORMULA, "normal", formula=True, array=True),
    ]
    return Sheet(SHEET_DATA, cells, col_widths={"A": 14}, protect=False)


def _conf_sheet():
    from szqa_xl.xlsx.plan import Cell, Sheet

    cells = []
    for r, (key, value, note) in enumerate(CONF_ROWS, start=1):
        cells += [Cell(f"A{r}", key, "normal"), Cell(f"C{r}", note, "note")]
        if value is not None:
            cells.append(Cell(f"B{r}", value, "normal"))
    top = len(CONF_ROWS) + 3  # a blank row ends what xlwings reads
    cells += [Cell(f"A{top + i}", line, "note") for i, line in enumerate(CONF_HELP)]
    return Sheet(SHEET_CONF, cells, col_widths={"A": 18, "B": 44, "C": 90}, protect=False)


def secretariat_plan(vba_project: Path | str):
    """The whole workbook as a plan, embedding the VBA project at ``vba_project`` (a vbaProject.bin)."""
    from szqa_xl.xlsx.plan import Workbook

    sheets = [_help_sheet(), _control_sheet(), _example_sheet(), _data_sheet(), _conf_sheet()]
    free = (f"Sheet{i}" for i in range(1, 100) if f"Sheet{i}" not in SHEET_CODE_NAMES.values())
    for sheet in sheets:
        sheet.vba_name = SHEET_CODE_NAMES.get(sheet.title) or next(free)

    def on_control(ref: str) -> str:  # 'B5' -> "'控制'!$B$5"
        return f"'{SHEET_CONTROL}'!${ref[0]}${ref[1:]}"

    names = {ACTION_NAME: on_control(ACTION_CELL)}
    names.update({f.name: on_control(control_cell(f.name)) for f in CONTROL_FIELDS})
    return Workbook(
        sheets,
        _styles(),
        names=names,
        lock_structure=False,
        title="深圳市市长质量奖 评审秘书处工作簿",
        vba_project=str(vba_project),
        vba_name=WORKBOOK_CODE_NAME,
        custom_properties={"xlwings_template": TEMPLATE_SOURCE, "xlwings_template_sha256": TEMPLATE_SHA256},
        created=FIXED_DATE,
    )


def build_secretariat_workbook(path) -> Path:
    """Write the secretariat workbook to ``path`` (atomically, deterministically) and return the path."""
    from szqa_xl.xlsx.writer import render

    path = Path(path)
    if template_sha256() != TEMPLATE_SHA256:
        raise RuntimeError(f"{TEMPLATE} is not the recorded {TEMPLATE_SOURCE} (sha256 differs)")
    with tempfile.TemporaryDirectory(prefix="szqa-vba-") as tmp:
        vba = Path(tmp) / "vbaProject.bin"
        with zipfile.ZipFile(TEMPLATE) as z:
            vba.write_bytes(z.read(VBA_PART))
        render(secretariat_plan(vba), path)
    return path
