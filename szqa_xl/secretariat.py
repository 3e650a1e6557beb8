"""The secretariat workbook (``workbook/szqa_secretariat.xlsm``) and what its buttons run.

The workbook is built from the xlwings standalone quickstart template copied into
``szqa_xl/data/xlwings_quickstart.xlsm`` (see :data:`TEMPLATE_SOURCE`), whose
``xl/vbaProject.bin`` holds the xlwings VBA module (``RunPython``, ``ImportPythonUDFs``)
and is carried over byte for byte.  openpyxl adds the sheets:

* 说明 — how to set it up on Windows (Chinese);
* 控制 — the parameters of the buttons, as named cells (:data:`CONTROL_FIELDS`);
* 示例 — the UDFs of :mod:`szqa_xl.udfs` over a small realistic table;
* 汇总数据 — ``szqa_consolidate`` as a spilling dynamic array;
* xlwings.conf — the settings xlwings reads (``UDF Modules`` = ``szqa_xl.udfs``).

The build is deterministic (fixed dates, fixed zip timestamps) so a test can check that
the committed file is current.  The macros (:func:`run_action`) are plain Python over a
:class:`Control` read from the named cells, so they are tested without Excel.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from szqa_xl.converters import (
    InputError,
    parse_bool,
    parse_float,
    parse_int,
    parse_path,
    parse_year,
)

# -- template --------------------------------------------------------------------------

DATA_DIR = Path(__file__).resolve().parent / "data"
TEMPLATE = DATA_DIR / "xlwings_quickstart.xlsm"
TEMPLATE_XLWINGS_VERSION = "0.37.8"
TEMPLATE_SOURCE = f"xlwings {TEMPLATE_XLWINGS_VERSION} xlwings/quickstart_standalone.xlsm"
"""Where TEMPLATE came from: ``xlwings quickstart --standalone`` copies this very file."""
TEMPLATE_SHA256 = "9234980238cfa47783cd4ed679eb4eee385cbfb075fef9f64a5a3fb6f90d62d5"
VBA_PART = "xl/vbaProject.bin"

FIXED_DATE = datetime(2025, 1, 1, 0, 0, 0)
FIXED_W3CDTF = "2025-01-01T00:00:00Z"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FONT_NAME = "等线"

# -- sheet names and named cells ---------------------------------------------------------

SHEET_HELP = "说明"
SHEET_CONTROL = "控制"
SHEET_EXAMPLE = "示例"
SHEET_DATA = "汇总数据"
SHEET_CONF = "xlwings.conf"

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
    ControlField(STATUS_NAME, "上次运行结果", None, "按钮运行后在此显示结果"),
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
        bands_apart=parse_int(get("szqa_bands_apart"), "相隔区间数", 2),
        range_points=parse_float(get("szqa_range_points"), "分差", 25.0),
        force=parse_bool(get("szqa_force"), "覆盖已有结果"),
    )


def run_generate(control: Control) -> str:
    """「生成评分表」: one scoresheet per roster row and a manifest; refuses to re-issue silently."""
    from szqa_xl.generate import generate

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
    from szqa_xl.batch import consolidate_dir, write_outputs
    from szqa_xl.consolidate import Thresholds

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
    paths = write_outputs(cons, control.output_dir, force=control.force, workers=workers)
    c = cons.counts()
    flagged = int(cons.stats["flag"].sum()) if len(cons.stats) else 0
    lines = [
        f"{_stamp()} 已合并 {c['accepted'] + c['incomplete']} 份（其中未完成 {c['incomplete']} 份），"
        f"拒收 {c['rejected']}，重复 {c['duplicate']}，未返回 {c['missing']}，跳过 {c['skipped']}；"
        f"申报方 {len(cons.applicants)} 个，需讨论的评分单元 {flagged} 个。",
        f"汇总：{paths['workbook']}",
    ]
    bad = [r for r in cons.returns if r.status in ("rejected", "duplicate")]
    for r in bad[:5]:
        reason = r.reasons.splitlines()[0] if r.reasons else ""
        lines.append(f"· {r.file}：{reason}")
    if len(bad) > 5:
        lines.append(f"……另有 {len(bad) - 5} 个文件，见 consolidated.xlsx 的回收情况表")
    return "\n".join(lines)


def open_output(control: Control) -> str:
    """「打开汇总文件夹」 in Explorer (Finder, or the desktop's file manager elsewhere)."""
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


ACTIONS: dict[str, Callable[[Control], str]] = {
    "generate": run_generate,
    "consolidate": run_consolidate,
    "open_output": open_output,
}


def run_action(action: str, control: Control) -> str:
    return ACTIONS[action](control)


def _stamp() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M")


# -- building the workbook ----------------------------------------------------------------

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

HELP_LINES: tuple[str, ...] = (
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
    "7. 打开本工作簿，点击“启用内容”。",
    "8. 在「xlwings.conf」表的 B1（Interpreter_Win）填写：C:\\szqa\\.venv\\Scripts\\pythonw.exe（按实际路径）。",
    "9. 导入函数：按 Alt+F8，选择 ImportPythonUDFs 并运行（装了加载项也可点 xlwings 选项卡 → Import Functions）；"
    "然后按 Ctrl+Alt+F9 重新计算。「示例」表中的 #NAME? 会变成计算结果。",
    "10. 导入按钮宏：按 Alt+F11 打开 VBA 编辑器 → 文件 → 导入文件 → 选择 macros\\szqa_buttons.bas。",
    "11. 添加按钮：开发工具 → 插入 → 按钮（窗体控件），分别指定宏 SzqaGenerate（生成评分表）、"
    "SzqaConsolidate（汇总回收文件）、SzqaOpenOutput（打开汇总文件夹）。没有“开发工具”选项卡时："
    "文件 → 选项 → 自定义功能区 → 勾选“开发工具”。",
    "12. 另存为 .xlsm（启用宏的工作簿）。",
    "",
    "三、使用",
    "13. 在「控制」表填写名单文件、评审年度、各文件夹（相对路径从本工作簿所在文件夹算起）。",
    "14. 生成评分表 → 把评分表发给评审员 → 把交回的文件放进回收文件夹 → 汇总回收文件 → 打开汇总文件夹。",
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
    "· #NAME?：尚未导入函数（第 9 步），或导入后未重新计算。",
    "· 按钮无反应：检查宏是否被禁用（第 6、7 步）；在「xlwings.conf」表把 Show Console 改为 TRUE 查看出错信息。",
    "",
    f"模板：{TEMPLATE_SOURCE}（sha256 {TEMPLATE_SHA256[:16]}…）。本工作簿由 szqa build-workbooks 生成，请勿手工修改后提交。",
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
EXAMPLE_CHECKS: tuple[tuple[str, object, str], ...] = (
    ("文字“80%”", "80%", '=szqa_band({v},"经济类","过程")'),
    ("百分比格式的 0.85", 0.85, '=szqa_band({v},"经济类","结果")'),
    ("非网格值 42", 42, '=szqa_band({v},"经济类","过程")'),
    ("文化类共享边界 20", 20, '=szqa_band({v},"文化类","过程",TRUE)'),
    ("指南类型写错", 60, '=szqa_band({v},"经济类","过程类别")'),
    ("奖项类别写错", 60, '=szqa_band({v},"金融类","过程")'),
)
DATA_FORMULA = (
    f"=szqa_consolidate(szqa_returns_dir,szqa_manifest,szqa_year,{REFRESH_NAME},{WORKBOOK_DIR_NAME})"
)
DATA_ANCHOR = "A4"

DYNAMIC_ARRAY_METADATA = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<metadata xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:xda="http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray">'
    '<metadataTypes count="1"><metadataType name="XLDAPR" minSupportedVersion="120000" copy="1" '
    'pasteAll="1" pasteValues="1" merge="1" splitFirst="1" rowColShift="1" clearFormats="1" '
    'clearComments="1" assign="1" coerce="1" cellMeta="1"/></metadataTypes>'
    '<futureMetadata name="XLDAPR" count="1"><bk><extLst><ext uri="{bdbb8cdc-fa1e-496e-a857-3c3f30c029c3}">'
    '<xda:dynamicArrayProperties fDynamic="1" fCollapsed="0"/></ext></extLst></bk></futureMetadata>'
    '<cellMetadata count="1"><bk><rc t="1" v="0"/></bk></cellMetadata></metadata>'
)
"""Cell metadata Excel writes for a dynamic-array formula; without it Excel 365 would show
``=@szqa_consolidate(…)`` and not spill."""


def template_sha256() -> str:
    return hashlib.sha256(TEMPLATE.read_bytes()).hexdigest()


def build_secretariat_workbook(path) -> Path:
    """Write the secretariat workbook to ``path`` (deterministically) and return the path."""
    from openpyxl import load_workbook

    from szqa_xl.atomic import atomic_path

    path = Path(path)
    if template_sha256() != TEMPLATE_SHA256:
        raise RuntimeError(f"{TEMPLATE} is not the recorded {TEMPLATE_SOURCE} (sha256 differs)")
    wb = load_workbook(TEMPLATE, keep_vba=True)
    help_ws = wb["Sheet1"]
    help_ws.title = SHEET_HELP
    conf_ws = wb["_xlwings.conf"]
    conf_ws.title = SHEET_CONF
    _fill_help(help_ws)
    _fill_control(wb.create_sheet(SHEET_CONTROL, 1))
    _fill_example(wb.create_sheet(SHEET_EXAMPLE, 2))
    _fill_data(wb.create_sheet(SHEET_DATA, 3))
    _fill_conf(conf_ws)
    for title in (SHEET_CONTROL, SHEET_EXAMPLE, SHEET_DATA):
        _fit_to_page_width(wb[title])
    wb.active = 0
    _set_properties(wb)
    with atomic_path(path) as tmp:
        wb.save(tmp)
        _finalise(tmp, {SHEET_DATA: [DATA_ANCHOR]})
    return path


# -- sheet contents ---------------------------------------------------------------------


def _styles():
    from openpyxl.styles import Alignment, Font, PatternFill

    return {
        "title": Font(name=FONT_NAME, bold=True, size=14, color="1F3864"),
        "bold": Font(name=FONT_NAME, bold=True),
        "normal": Font(name=FONT_NAME),
        "note": Font(name=FONT_NAME, color="595959", size=10),
        "head_fill": PatternFill("solid", fgColor="D9E1F2"),
        "input_fill": PatternFill("solid", fgColor="FFF2CC"),
        "calc_fill": PatternFill("solid", fgColor="E2EFDA"),
        "wrap": Alignment(wrap_text=True, vertical="top"),
        "value": Alignment(wrap_text=True, vertical="top", horizontal="left"),
        "center": Alignment(horizontal="center", vertical="center"),
    }


def _fill_help(ws) -> None:
    st = _styles()
    for r, line in enumerate(HELP_LINES, start=1):
        cell = ws.cell(r, 1, line or None)
        cell.alignment = st["wrap"]
        is_heading = r == 1 or re.match(r"^[一二三四五六七八九十]、", line)
        cell.font = st["title"] if r == 1 else st["bold"] if is_heading else st["normal"]
    ws.column_dimensions["A"].width = 120
    ws.sheet_view.showGridLines = False


def _fill_control(ws) -> None:
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    st = _styles()
    ws["A1"] = "评审秘书处 · 控制面板"
    ws["A1"].font = st["title"]
    ws["A2"] = (
        "按钮（生成评分表 / 汇总回收文件 / 打开汇总文件夹）读取黄色单元格；相对路径从本工作簿所在文件夹算起。"
    )
    ws["A2"].font = st["note"]
    for col, head in zip("ABC", ("项目", "设置", "说明"), strict=True):
        c = ws[f"{col}{CONTROL_FIRST_ROW - 1}"]
        c.value = head
        c.font = st["bold"]
        c.fill = st["head_fill"]
    for f in CONTROL_FIELDS:
        ref = control_cell(f.name)
        row = int(ref[1:])
        ws.cell(row, 1, f.label).font = st["bold"]
        value = ws[ref]
        value.value = f.default
        value.font = st["normal"]
        value.alignment = st["value"]
        value.fill = st["calc_fill"] if f.name in (WORKBOOK_DIR_NAME, STATUS_NAME) else st["input_fill"]
        note = ws.cell(row, 3, f.note)
        note.font = st["note"]
        note.alignment = st["wrap"]
        ws.parent.defined_names[f.name] = DefinedName(f.name, attr_text=f"'{SHEET_CONTROL}'!${ref[0]}${row}")
    ws.row_dimensions[int(control_cell(STATUS_NAME)[1:])].height = 90
    yes_no = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
    yes_no.add(control_cell("szqa_force"))
    stages = DataValidation(
        type="list", formula1='"材料评审,现场评审"', allow_blank=True, showErrorMessage=False
    )
    stages.add(control_cell("szqa_stage"))
    ws.add_data_validation(yes_no)
    ws.add_data_validation(stages)
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 44
    ws.column_dimensions["C"].width = 80


def _fill_example(ws) -> None:
    from openpyxl.utils import get_column_letter

    from szqa_xl import udfs
    from szqa_xl.converters import parse_award

    st = _styles()
    std = parse_award(EXAMPLE_AWARD)
    units = std.units()
    n = len(units)
    first, last = EXAMPLE_FIRST_ROW, EXAMPLE_FIRST_ROW + n - 1
    ws["A1"] = "奖项类别"
    ws["A1"].font = st["bold"]
    ws["B1"] = EXAMPLE_AWARD
    ws["B1"].fill = st["input_fill"]
    ws["C1"] = "示例：申报方 EC-001 的五位评审员得分率（黄色可改）；绿色为 szqa 函数的计算结果"
    ws["C1"].font = st["note"]
    ex_cols = [get_column_letter(5 + i) for i in range(len(EXAMPLE_EXAMINERS))]
    c_cons, c_band, c_spread, c_score = (get_column_letter(5 + len(ex_cols) + i) for i in range(4))
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
    for i, h in enumerate(heads, start=1):
        c = ws.cell(2, i, h)
        c.font = st["bold"]
        c.fill = st["head_fill"]
        c.alignment = st["center"]
    for r, u in zip(range(first, last + 1), units, strict=True):
        ws.cell(r, 1, u.code)
        ws.cell(r, 2, u.name)
        ws.cell(r, 3, "过程" if u.kind == "process" else "结果")
        ws.cell(r, 4, u.points)
        for col, pct in zip(ex_cols, EXAMPLE_PCTS[u.code], strict=True):
            ws[f"{col}{r}"] = pct
            ws[f"{col}{r}"].fill = st["input_fill"]
        row_range = f"{ex_cols[0]}{r}:{ex_cols[-1]}{r}"
        ws[f"{c_cons}{r}"] = f"=szqa_consensus({row_range},$B$1)"
        ws[f"{c_band}{r}"] = f"=szqa_band({c_cons}{r},$B$1,C{r})"
        ws[f"{c_spread}{r}"] = f"=szqa_spread({row_range},$B$1,C{r})"
        ws[f"{c_score}{r}"] = f'=IFERROR(D{r}*{c_cons}{r}/100,"")'
        for col in (c_cons, c_band, c_spread, c_score):
            ws[f"{col}{r}"].fill = st["calc_fill"]
    total, expect = last + 1, last + 2
    ws.cell(total, 1, "加权总分").font = st["bold"]
    ws.cell(total, 4, f"=SUM(D{first}:D{last})")
    ws.cell(expect, 1, "预期结果（Python 计算，供核对）").font = st["note"]
    points = [[u.points] for u in units]
    for i, col in enumerate([*ex_cols, c_cons]):
        ws[f"{col}{total}"] = f"=szqa_weighted_total($D${first}:$D${last},{col}{first}:{col}{last},$B$1)"
        ws[f"{col}{total}"].fill = st["calc_fill"]
        if col == c_cons:
            column = [[udfs.szqa_consensus([list(EXAMPLE_PCTS[u.code])], EXAMPLE_AWARD)] for u in units]
        else:
            column = [[EXAMPLE_PCTS[u.code][i]] for u in units]
        ws[f"{col}{expect}"] = udfs.szqa_weighted_total(points, column, EXAMPLE_AWARD)
        ws[f"{col}{expect}"].font = st["note"]

    top = expect + 2
    ws.cell(top, 1, "输入检查示例").font = st["bold"]
    for i, h in enumerate(("情形", "输入", "函数结果", "预期结果（Python 计算）"), start=1):
        c = ws.cell(top + 1, i, h)
        c.font = st["bold"]
        c.fill = st["head_fill"]
    for j, (label, value, formula) in enumerate(EXAMPLE_CHECKS):
        r = top + 2 + j
        ws.cell(r, 1, label)
        v = ws.cell(r, 2, value)
        v.fill = st["input_fill"]
        if isinstance(value, float):
            v.number_format = "0%"
        ws.cell(r, 3, formula.format(v=f"B{r}")).fill = st["calc_fill"]
        ws.cell(r, 4, _expected(formula, value)).font = st["note"]
    widths = {"A": 26, "B": 16, "C": 26, "D": 22}
    for col, w in widths.items():
        ws.column_dimensions[col].width = w
    for col in ex_cols:
        ws.column_dimensions[col].width = 7
    for col, w in ((c_cons, 11), (c_band, 14), (c_spread, 12), (c_score, 10)):
        ws.column_dimensions[col].width = w
    ws.freeze_panes = f"C{first}"


def _expected(formula: str, value: object) -> object:
    """What the check formula of the example gives, computed by calling the UDF in Python."""
    from szqa_xl import udfs

    m = re.fullmatch(r"=szqa_band\(\{v\},\"([^\"]*)\",\"([^\"]*)\"(,TRUE)?\)", formula)
    if m is None:  # pragma: no cover - EXAMPLE_CHECKS only uses szqa_band
        raise ValueError(formula)
    return udfs.szqa_band(value, m.group(1), m.group(2), bool(m.group(3)))


def _fill_data(ws) -> None:
    from openpyxl.worksheet.formula import ArrayFormula

    st = _styles()
    ws["A1"] = "回收文件汇总数据（与 scores.csv 相同，每个评分单元一行）"
    ws["A1"].font = st["title"]
    ws["A2"] = (
        "下面的 szqa_consolidate 公式读取「控制」表的回收文件夹和发放清单，结果自动向下向右溢出；"
        "改变「控制」表的“刷新汇总数据”即重新读取。请勿在公式下方和右侧填写内容。"
    )
    ws["A2"].font = st["note"]
    ws[DATA_ANCHOR] = ArrayFormula(DATA_ANCHOR, DATA_FORMULA)
    ws.column_dimensions["A"].width = 14


def _fill_conf(ws) -> None:
    st = _styles()
    if ws.max_row:
        ws.delete_rows(1, ws.max_row)
    for r, (key, value, note) in enumerate(CONF_ROWS, start=1):
        ws.cell(r, 1, key)
        ws.cell(r, 2, value)
        ws.cell(r, 3, note).font = st["note"]
    top = len(CONF_ROWS) + 3  # a blank row ends what xlwings reads
    for i, line in enumerate(CONF_HELP):
        ws.cell(top + i, 1, line).font = st["note"]
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 44
    ws.column_dimensions["C"].width = 90


def _fit_to_page_width(ws) -> None:
    """Printing (and PDF export) landscape, one page wide."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _set_properties(wb) -> None:
    from openpyxl.packaging.custom import StringProperty

    p = wb.properties
    p.creator = "szqa-xl"
    p.lastModifiedBy = "szqa-xl"
    p.title = "深圳市市长质量奖 评审秘书处工作簿"
    p.subject = "评分表生成与回收汇总"
    p.created = FIXED_DATE
    p.modified = FIXED_DATE
    wb.custom_doc_props.append(StringProperty(name="xlwings_template", value=TEMPLATE_SOURCE))
    wb.custom_doc_props.append(StringProperty(name="xlwings_template_sha256", value=TEMPLATE_SHA256))


# -- deterministic package ------------------------------------------------------------------


def _sheet_parts(files: dict[str, bytes]) -> dict[str, str]:
    """Sheet title → part name, from workbook.xml and its relationships."""
    import xml.etree.ElementTree as ET

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    pkg = "{http://schemas.openxmlformats.org/package/2006/relationships}"
    rels = {
        r.get("Id"): r.get("Target")
        for r in ET.fromstring(files["xl/_rels/workbook.xml.rels"]).iter(f"{pkg}Relationship")
    }
    out = {}
    for s in ET.fromstring(files["xl/workbook.xml"]).iter(f"{main}sheet"):
        target = rels[s.get(f"{rel_ns}id")].lstrip("/")
        out[s.get("name")] = target if target.startswith("xl/") else f"xl/{target}"
    return out


def _finalise(path: Path, dynamic: dict[str, list[str]]) -> None:
    """Fix dates and zip timestamps, and mark dynamic-array formulas as Excel 365 does."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        files = {n: z.read(n) for n in names}
    core = files["docProps/core.xml"].decode("utf-8")
    for tag in ("created", "modified"):
        core = re.sub(rf"(<dcterms:{tag}[^>]*>)[^<]*(</dcterms:{tag}>)", rf"\g<1>{FIXED_W3CDTF}\g<2>", core)
    files["docProps/core.xml"] = core.encode("utf-8")
    if dynamic:
        parts = _sheet_parts(files)
        for sheet, refs in dynamic.items():
            part = parts[sheet]
            xml = files[part].decode("utf-8")
            for ref in refs:
                xml, n = re.subn(
                    rf'<c r="{ref}"(?![^>]*\bcm=)([^>]*)>(?=<f t="array")', rf'<c r="{ref}"\1 cm="1">', xml
                )
                if n != 1:
                    raise RuntimeError(f"dynamic-array cell {sheet}!{ref} not found as an array formula")
            files[part] = xml.encode("utf-8")
        files["xl/metadata.xml"] = DYNAMIC_ARRAY_METADATA.encode("utf-8")
        if "xl/metadata.xml" not in names:
            names.append("xl/metadata.xml")
        ct = files["[Content_Types].xml"].decode("utf-8")
        if "/xl/metadata.xml" not in ct:
            ct = ct.replace(
                "</Types>",
                '<Override PartName="/xl/metadata.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"/></Types>',
            )
        files["[Content_Types].xml"] = ct.encode("utf-8")
        rels = files["xl/_rels/workbook.xml.rels"].decode("utf-8")
        if "metadata.xml" not in rels:
            rels = rels.replace(
                "</Relationships>",
                '<Relationship Id="rIdSzqaMetadata" '
                'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sheetMetadata" '
                'Target="metadata.xml"/></Relationships>',
            )
        files["xl/_rels/workbook.xml.rels"] = rels.encode("utf-8")
    tmp = path.with_name(path.name + ".zip")
    try:
        with zipfile.ZipFile(tmp, "w") as z:
            for name in names:
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, files[name])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
