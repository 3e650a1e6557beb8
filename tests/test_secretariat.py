"""The secretariat workbook (rendered from a plan, VBA from the xlwings standalone template) and its steps.

Checks that the committed ``workbook/szqa_secretariat.xlsm`` is what the code builds, that its
VBA project is the template's byte for byte and bound through the template's code names, that
the 运行 button runs the template's ``SampleCall`` (which imports the module named after the
workbook: ``szqa_secretariat``), that the action dropdown lists exactly the steps
``szqa_secretariat.main()`` knows, that ``main()`` runs the chosen step for a stand-in of
xlwings' caller book, that the xlwings.conf keys are spelt as xlwings reads them (from
xlwings' own source, at test time), that LibreOffice opens it, and runs the steps' Python side
(generate, consolidate) end to end.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import posixpath
import re
import shutil
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import xlwings
from openpyxl import load_workbook

import szqa_secretariat
from szqa_xl import udfs
from szqa_xl.excel import secretariat as sec
from szqa_xl.excel.converters import ERROR_PREFIX, InputError
from szqa_xl.xlsx.libreoffice import convert, soffice

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "workbook" / "szqa_secretariat.xlsm"
MACROS = REPO / "macros"
XLWINGS_DIR = Path(xlwings.__file__).resolve().parent
INSTALLED_TEMPLATE = XLWINGS_DIR / "quickstart_standalone.xlsm"

M = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
V = "urn:schemas-microsoft-com:vml"
X = "urn:schemas-microsoft-com:office:excel"

ROSTER = """applicant_id,applicant_name,award_category,applicant_kind,examiner_id,examiner_name
EC-001,深圳湾精密制造有限公司,economic,organisation,E01,李明
EC-001,深圳湾精密制造有限公司,economic,organisation,E02,王芳
SO-001,福田社区健康服务中心,social,organisation,E21,赵敏
"""


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


# -- the package, read through its relationships (parsed, never searched) ----------------------------


def target_part(source: str, target: str) -> str:
    """The part a relationship of ``source`` points at (OPC: relative to the source's folder)."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


def relationships(p: dict[str, bytes], source: str) -> dict[str, tuple[str, str]]:
    """Id -> (type, target part) of a part's relationships."""
    folder, name = posixpath.split(source)
    rels = ET.fromstring(p[posixpath.join(folder, "_rels", name + ".rels")])
    return {
        r.get("Id"): (r.get("Type"), target_part(source, r.get("Target")))
        for r in rels.iter(f"{{{PKG_REL}}}Relationship")
    }


def sheet_parts(p: dict[str, bytes]) -> dict[str, str]:
    """Sheet title -> part name, from workbook.xml and its relationships."""
    rels = relationships(p, "xl/workbook.xml")
    root = ET.fromstring(p["xl/workbook.xml"])
    return {s.get("name"): rels[s.get(f"{{{R}}}id")][1] for s in root.iter(f"{{{M}}}sheet")}


def sheet_xml(p: dict[str, bytes], title: str) -> ET.Element:
    return ET.fromstring(p[sheet_parts(p)[title]])


def defined_names(p: dict[str, bytes]) -> dict[str, str]:
    root = ET.fromstring(p["xl/workbook.xml"])
    return {d.get("name"): d.text for d in root.iter(f"{{{M}}}definedName")}


def buttons(p: dict[str, bytes], title: str) -> list[tuple[str, str, str]]:
    """(caption, macro, top-left cell) of every form-control button on a sheet, from its VML drawing."""
    part = sheet_parts(p)[title]
    legacy = sheet_xml(p, title).find(f"{{{M}}}legacyDrawing")
    if legacy is None:
        return []
    rel_type, vml = relationships(p, part)[legacy.get(f"{{{R}}}id")]
    assert rel_type == f"{R}/vmlDrawing"
    out = []
    for shape in ET.fromstring(p[vml]).iter(f"{{{V}}}shape"):
        data = shape.find(f"{{{X}}}ClientData")
        if data is None or data.get("ObjectType") != "Button":
            continue
        caption = "".join(shape.find(f"{{{V}}}textbox").itertext()).strip()
        left_col, _, top_row, *_ = (int(n) for n in data.findtext(f"{{{X}}}Anchor").split(","))
        out.append((caption, data.findtext(f"{{{X}}}FmlaMacro"), f"{chr(65 + left_col)}{top_row + 1}"))
    return out


def vba_document_modules(vba: bytes) -> set[str]:
    """The document modules (workbook and sheets) a VBA project declares in its PROJECT stream,
    which is stored uncompressed: ``Document=<code name>/&H00000000`` lines."""
    names = set()
    for chunk in vba.split(b"Document=")[1:]:
        name, sep, _ = chunk.partition(b"/&H")
        assert sep, "unexpected PROJECT stream"
        names.add(name.decode("ascii"))
    return names


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return sec.build_secretariat_workbook(tmp_path_factory.mktemp("wb") / sec.WORKBOOK_FILE)


# -- template and build ---------------------------------------------------------------------


def test_packaged_template_is_the_recorded_xlwings_file():
    assert sec.template_sha256() == sec.TEMPLATE_SHA256
    assert sec.TEMPLATE_SOURCE == f"xlwings {sec.TEMPLATE_XLWINGS_VERSION} xlwings/quickstart_standalone.xlsm"
    if xlwings.__version__ != sec.TEMPLATE_XLWINGS_VERSION:
        pytest.skip(
            f"installed xlwings is {xlwings.__version__}, the template is from {sec.TEMPLATE_XLWINGS_VERSION}: "
            "copy the new quickstart_standalone.xlsm, update TEMPLATE_* and rebuild"
        )
    assert sec.TEMPLATE.read_bytes() == INSTALLED_TEMPLATE.read_bytes()


def test_template_sample_call_imports_the_module_named_after_the_workbook():
    """What the 运行 button relies on, read from the VBA source (needs oletools to decompress it)."""
    olevba = pytest.importorskip("oletools.olevba")
    parser = olevba.VBA_Parser(str(sec.TEMPLATE))
    try:
        modules = {name: code for _, _, name, code in parser.extract_macros()}
    finally:
        parser.close()
    code = modules["Module1.bas"]
    assert f"Sub {sec.RUN_MACRO}()" in code
    assert 'mymodule = Left(ThisWorkbook.Name, (InStrRev(ThisWorkbook.Name, "."' in code
    assert 'RunPython "import " & mymodule & ";" & mymodule & ".main()"' in code


def test_build_is_deterministic(built, tmp_path):
    again = sec.build_secretariat_workbook(tmp_path / "again.xlsm")
    assert again.read_bytes() == built.read_bytes()


def test_committed_workbook_is_current(built):
    """Part by part, byte for byte; run `szqa build-workbooks` when this fails."""
    assert COMMITTED.is_file(), "run: szqa build-workbooks --out workbook"
    have, want = parts(COMMITTED), parts(built)
    assert sorted(have) == sorted(want), "rebuild with `szqa build-workbooks --out workbook`"
    for name in want:
        assert have[name] == want[name], f"{name} differs: rebuild with `szqa build-workbooks --out workbook`"
    assert COMMITTED.read_bytes() == built.read_bytes()


@pytest.mark.parametrize("which", ["committed", "built"])
def test_vba_project_is_the_templates_byte_for_byte(built, which):
    path = COMMITTED if which == "committed" else built
    assert parts(path)[sec.VBA_PART] == parts(sec.TEMPLATE)[sec.VBA_PART]
    if INSTALLED_TEMPLATE.is_file() and xlwings.__version__ == sec.TEMPLATE_XLWINGS_VERSION:
        assert parts(path)[sec.VBA_PART] == parts(INSTALLED_TEMPLATE)[sec.VBA_PART]


def test_code_names_bind_the_templates_vba_project(built):
    """The workbook and the two template sheets keep the code names of the VBA project's document
    modules (ThisWorkbook, Sheet1, Sheet2); the new sheets get unused ones."""
    p, t = parts(built), parts(sec.TEMPLATE)

    def code_names(pp: dict[str, bytes]) -> tuple[str, dict[str, str]]:
        wb = ET.fromstring(pp["xl/workbook.xml"]).find(f"{{{M}}}workbookPr").get("codeName")
        sheets = {
            title: ET.fromstring(pp[part]).find(f"{{{M}}}sheetPr").get("codeName")
            for title, part in sheet_parts(pp).items()
        }
        return wb, sheets

    wb, sheets = code_names(p)
    t_wb, t_sheets = code_names(t)
    assert (
        vba_document_modules(p[sec.VBA_PART])
        == {t_wb, *t_sheets.values()}
        == {
            "ThisWorkbook",
            "Sheet1",
            "Sheet2",
        }
    )
    assert wb == t_wb == sec.WORKBOOK_CODE_NAME
    assert sheets[sec.SHEET_HELP] == t_sheets["Sheet1"]  # the template's first sheet, renamed
    assert sheets[sec.SHEET_CONF] == t_sheets["_xlwings.conf"]
    assert len(set(sheets.values())) == len(sheets) and wb not in sheets.values()


def test_package_is_a_macro_enabled_workbook_with_a_spilling_formula(built):
    p = parts(built)
    types = {
        o.get("PartName"): o.get("ContentType")
        for o in ET.fromstring(p["[Content_Types].xml"]).iter(f"{{{CT}}}Override")
    }
    assert types["/xl/workbook.xml"] == "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
    assert (
        types["/xl/metadata.xml"]
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"
    )
    rels = {t: typ for typ, t in relationships(p, "xl/workbook.xml").values()}
    assert rels[sec.VBA_PART] == "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
    assert rels["xl/metadata.xml"] == f"{R}/sheetMetadata"
    meta = ET.fromstring(p["xl/metadata.xml"])
    assert [t.get("name") for t in meta.iter(f"{{{M}}}metadataType")] == ["XLDAPR"]
    cell = next(c for c in sheet_xml(p, sec.SHEET_DATA).iter(f"{{{M}}}c") if c.get("r") == sec.DATA_ANCHOR)
    f = cell.find(f"{{{M}}}f")
    assert cell.get("cm") == "1" and f.get("t") == "array" and f.get("ref") == sec.DATA_ANCHOR
    assert "=" + f.text == sec.DATA_FORMULA
    with zipfile.ZipFile(built) as z:
        assert len({i.date_time for i in z.infolist()}) == 1, "fixed zip timestamps"


# -- the 运行 button and the action dropdown ------------------------------------------------------


def test_run_button_is_bound_to_sample_call(built):
    p = parts(built)
    assert buttons(p, sec.SHEET_CONTROL) == [("运行", f"[0]!{sec.RUN_MACRO}", sec.RUN_BUTTON_CELL)]
    assert sec.RUN_BUTTON_CELL[1:] == sec.ACTION_CELL[1:], "the button sits beside the dropdown"
    for title in sheet_parts(p):
        if title != sec.SHEET_CONTROL:
            assert buttons(p, title) == []


def test_sample_call_reaches_szqa_secretariat_main():
    """SampleCall imports the workbook's name without its extension and calls main() there."""
    assert Path(sec.WORKBOOK_FILE).stem == sec.ENTRY_MODULE == szqa_secretariat.__name__
    assert COMMITTED.name == sec.WORKBOOK_FILE
    assert callable(szqa_secretariat.main)


def test_action_dropdown_lists_exactly_the_actions_main_knows(built):
    p = parts(built)
    assert defined_names(p)[sec.ACTION_NAME] == f"'{sec.SHEET_CONTROL}'!$B$3"
    (dv,) = [
        v
        for v in sheet_xml(p, sec.SHEET_CONTROL).iter(f"{{{M}}}dataValidation")
        if v.get("sqref") == sec.ACTION_CELL
    ]
    assert dv.get("type") == "list" and dv.get("showErrorMessage") == "1" and dv.get("allowBlank") is None
    listed = dv.findtext(f"{{{M}}}formula1")
    assert listed.startswith('"') and listed.endswith('"')
    assert tuple(listed[1:-1].split(",")) == szqa_secretariat.actions() == sec.action_labels()
    assert szqa_secretariat.actions() == (
        "生成评分表", "汇总回收文件", "定稿", "入围名单", "最终排名", "归档", "打开输出文件夹",
    )  # fmt: skip
    assert named_values(built)[sec.ACTION_NAME] == szqa_secretariat.actions()[0]


# -- szqa_secretariat.main() with a stand-in for xlwings' caller book -----------------------------


class StandInBook:
    """What main() uses of an xlwings Book: ``names(name).refers_to_range.value``, ``fullname`` and
    ``app.alert``.  Values come as xlwings gives them (numbers as float)."""

    def __init__(self, values: dict[str, object], fullname: Path | str) -> None:
        self.cells = {
            name: SimpleNamespace(value=float(v) if type(v) is int else v) for name, v in values.items()
        }
        self.fullname = str(fullname)
        self.alerts: list[tuple[str, str]] = []
        self.app = SimpleNamespace(alert=self._alert)

    def _alert(self, prompt, title=None, **_options) -> None:
        self.alerts.append((title, prompt))

    def names(self, name: str):
        return SimpleNamespace(refers_to_range=self.cells[name])

    def value(self, name: str) -> object:
        return self.cells[name].value


@pytest.fixture
def caller(built, tmp_path, monkeypatch):
    """A stand-in book saved in tmp_path with the workbook's defaults and a roster, as Book.caller()."""
    (tmp_path / "名单.csv").write_text(ROSTER, encoding="utf-8")
    book = StandInBook(named_values(built), tmp_path / sec.WORKBOOK_FILE)
    monkeypatch.setattr(xlwings.Book, "caller", classmethod(lambda cls: book))
    return book


def test_main_runs_the_chosen_action_for_the_caller_book(caller, tmp_path):
    caller.cells[sec.ACTION_NAME].value = "生成评分表"
    szqa_secretariat.main()
    status = caller.value(sec.STATUS_NAME)
    assert "已生成 3 份评分表" in status, status
    assert (tmp_path / "1_评分表" / "manifest.csv").is_file()
    assert len(list((tmp_path / "1_评分表").rglob("*.xlsx"))) == 3
    assert caller.alerts == [(sec.ALERT_TITLE, status)]
    szqa_secretariat.main()  # again: refused, the manifest exists (the message says why)
    assert "已经发放过" in caller.value(sec.STATUS_NAME)


def test_main_dispatches_every_listed_action(caller, monkeypatch):
    ran = []
    monkeypatch.setattr(sec, "run_action", lambda key, control: ran.append(key) or f"ran {key}")
    for label in szqa_secretariat.actions():
        caller.cells[sec.ACTION_NAME].value = label
        szqa_secretariat.main()
        assert caller.value(sec.STATUS_NAME) == f"ran {ran[-1]}"
    assert ran == list(sec.ACTIONS)


@pytest.mark.parametrize("chosen, words", [(None, "选择要运行的步骤"), ("汇总", "不是可运行的步骤")])
def test_main_names_a_missing_or_unknown_action(caller, chosen, words):
    caller.cells[sec.ACTION_NAME].value = chosen
    szqa_secretariat.main()
    status = caller.value(sec.STATUS_NAME)
    assert words in status and all(label in status for label in szqa_secretariat.actions())
    assert caller.alerts == [(sec.ALERT_TITLE, status)]


def test_main_in_an_unsaved_workbook_asks_for_full_paths(caller):
    caller.fullname = "szqa_secretariat"  # never saved: no folder for the relative paths
    szqa_secretariat.main()
    assert "相对路径" in caller.value(sec.STATUS_NAME)


def test_udf_macros_run_through_the_same_shell(caller, tmp_path):
    caller.cells[sec.ACTION_NAME].value = "打开输出文件夹"  # ignored: the macro names its step
    udfs.macro_generate()
    assert "已生成 3 份评分表" in caller.value(sec.STATUS_NAME)


def test_szqa_secretariat_is_installed_with_the_package():
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "szqa_secretariat" in config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert "szqa_secretariat" in config["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    assert Path(szqa_secretariat.__file__).resolve() == REPO / "szqa_secretariat" / "__init__.py"


def test_no_vba_of_ours_to_import():
    """The workbook needs no imported VBA: macros/ holds only its README, which says why."""
    assert sorted(p.name for p in MACROS.iterdir()) == ["README.md"]
    readme = (MACROS / "README.md").read_text(encoding="utf-8")
    assert sec.RUN_MACRO in readme and "szqa_secretariat.main()" in readme


# -- sheets ---------------------------------------------------------------------------------------


def test_sheets(built):
    wb = load_workbook(built, keep_vba=True)
    assert wb.sheetnames == [
        sec.SHEET_HELP,
        sec.SHEET_CONTROL,
        sec.SHEET_EXAMPLE,
        sec.SHEET_DATA,
        sec.SHEET_CONF,
    ]
    assert not any(name.endswith(".py") for name in wb.sheetnames), (
        "xlwings treats *.py sheets as embedded code"
    )
    help_text = "\n".join(str(c.value) for c in wb[sec.SHEET_HELP]["A"] if c.value)
    for words in (
        "pip install",
        "xlwings addin install",
        "信任对 VBA 工程对象模型的访问",
        "ImportPythonUDFs",
        "Import Functions",
        "Interpreter_Win",
        sec.TEMPLATE_XLWINGS_VERSION,
        sec.WORKBOOK_FILE,
        sec.RUN_MACRO,
        "「运行」",
        *sec.action_labels(),
    ):
        assert words in help_text, words
    assert "szqa_buttons.bas" not in help_text and "导入按钮" not in help_text
    props = {p.name: p.value for p in wb.custom_doc_props}
    assert props["xlwings_template"] == sec.TEMPLATE_SOURCE
    assert props["xlwings_template_sha256"] == sec.TEMPLATE_SHA256


# -- xlwings.conf ---------------------------------------------------------------------------------


def conf_rows(path: Path, sheet: str) -> list[tuple]:
    """Key/value rows as xlwings reads them: from A1 down to the first blank cell of column A."""
    ws = load_workbook(path)[sheet]
    rows = []
    for a, b in ws.iter_rows(min_col=1, max_col=2, values_only=True):
        if a in (None, ""):
            break
        rows.append((a, b))
    return rows


def xlwings_config_names() -> set[str]:
    """Every key xlwings' VBA looks up with GetConfig("…"), read from the installed package."""
    text = (XLWINGS_DIR / "xlwings.bas").read_text(encoding="utf-8", errors="replace")
    names = set(re.findall(r'GetConfig\("([^"]+)"', text))
    assert {"INTERPRETER_WIN", "UDF MODULES"} <= names
    return names


def test_conf_keys_are_spelt_as_xlwings_reads_them(built):
    rows = conf_rows(built, sec.SHEET_CONF)
    keys = [k for k, _ in rows]
    assert len(keys) == len(set(k.upper() for k in keys)), "xlwings fails on duplicate keys"
    # GetConfigFromSheet upper-cases the key; GetConfig looks it up by these names.
    known = xlwings_config_names()
    for k in keys:
        assert k.upper() in known, f"{k!r} is not a key xlwings reads"
    # and exactly the spelling of xlwings' own template sheet (installed copy when there, else ours)
    template = INSTALLED_TEMPLATE if INSTALLED_TEMPLATE.is_file() else sec.TEMPLATE
    template_keys = [k for k, _ in conf_rows(template, "_xlwings.conf")]
    assert keys == template_keys
    values = dict(rows)
    assert values["UDF Modules"] == "szqa_xl.udfs"
    assert values["Interpreter_Win"] in (None, ""), "left empty for the user"
    assert values["Use UDF Server"] is False and values["Show Console"] is False
    notes = {
        r[0]: r[2]
        for r in load_workbook(built)[sec.SHEET_CONF].iter_rows(max_col=3, values_only=True)
        if r[0]
    }
    assert "pythonw.exe" in notes["Interpreter_Win"]


def test_udf_modules_names_an_importable_module_with_the_formulas_functions(built):
    module = dict(conf_rows(built, sec.SHEET_CONF))["UDF Modules"]
    assert module == udfs.__name__
    wb = load_workbook(built)
    used = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                text = getattr(c.value, "text", c.value)
                if isinstance(text, str) and text.startswith("="):
                    used |= set(re.findall(r"\b(szqa_[a-z_]+)\(", text))
    assert used == {"szqa_weighted_total", "szqa_band", "szqa_consensus", "szqa_spread", "szqa_consolidate"}
    for name in used:
        assert callable(getattr(udfs, name))


# -- 控制 and 示例 ----------------------------------------------------------------------------------


def named_values(path: Path) -> dict[str, object]:
    wb = load_workbook(path)
    out = {}
    for name, dn in wb.defined_names.items():
        ((sheet, ref),) = list(dn.destinations)
        out[name] = wb[sheet][ref.replace("$", "")].value
        assert sheet == sec.SHEET_CONTROL
    return out


def test_control_sheet_named_cells(built):
    values = named_values(built)
    assert sorted(values) == sorted([sec.ACTION_NAME, *(f.name for f in sec.CONTROL_FIELDS)])
    assert values["szqa_bands_apart"] == 2 and values["szqa_range_points"] == 25
    assert values["szqa_year"] == 2027 and values["szqa_stage"] == "材料评审"
    assert values[sec.WORKBOOK_DIR_NAME].startswith('=IFERROR(LEFT(CELL("filename"')
    assert values[sec.STATUS_NAME] is None
    ws = load_workbook(built)[sec.SHEET_CONTROL]
    for f in sec.CONTROL_FIELDS:
        assert ws[sec.control_cell(f.name)].offset(0, -1).value == f.label
    validations = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert validations[sec.control_cell("szqa_force")].formula1 == '"是,否"'
    stage = validations[sec.control_cell("szqa_stage")]
    assert stage.formula1 == '"材料评审,现场评审"' and not stage.showErrorMessage, "other stages may be typed"


def test_read_control_from_the_workbook_defaults(built, tmp_path):
    values = named_values(built)
    c = sec.read_control(values.get, base_dir=tmp_path)
    assert c.roster == tmp_path / "名单.csv"
    assert c.scoresheets_dir == tmp_path / "1_评分表"
    assert c.manifest == tmp_path / "1_评分表" / "manifest.csv"
    assert c.returns_dir == tmp_path / "2_回收"
    assert c.output_dir == tmp_path / "3_汇总"
    assert (c.year, c.stage, c.bands_apart, c.range_points, c.force) == (2027, "材料评审", 2, 25.0, False)
    with pytest.raises(InputError, match="相对路径"):
        sec.read_control(values.get)  # an unsaved workbook: no folder to start from


def test_example_sheet_expected_values_are_the_udfs(built):
    ws = load_workbook(built)[sec.SHEET_EXAMPLE]
    first = sec.EXAMPLE_FIRST_ROW
    last = first + len(sec.EXAMPLE_PCTS) - 1
    assert ws[f"E{last + 1}"].value == f"=szqa_weighted_total($D${first}:$D${last},E{first}:E{last},$B$1)"
    expected = [ws.cell(last + 2, col).value for col in range(5, 11)]
    assert expected[2] == "未完成（已评 16/18）"
    assert all(isinstance(v, float) for i, v in enumerate(expected) if i != 2)
    assert ws[f"D{last + 1}"].value == f"=SUM(D{first}:D{last})"
    checks = {ws.cell(r, 1).value: ws.cell(r, 4).value for r in range(last + 5, ws.max_row + 1)}
    assert checks["文字“80%”"] == "70～85%"
    assert checks["非网格值 42"].startswith(ERROR_PREFIX)
    assert checks["文化类共享边界 20"] == "一般水平 0～20% / 较好水平 20～40%"


# -- LibreOffice ----------------------------------------------------------------------------------


@pytest.mark.libreoffice
def test_opens_in_libreoffice(built, tmp_path):
    """LibreOffice opens the workbook (macros not run); the original is untouched."""
    if soffice() is None:
        if os.environ.get("SZQA_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail("LibreOffice (soffice) not on PATH and SZQA_REQUIRE_LIBREOFFICE=1", pytrace=False)
        pytest.skip(
            "LibreOffice (soffice) not on PATH; set SZQA_REQUIRE_LIBREOFFICE=1 to make this a failure"
        )
    copy = tmp_path / "copy.xlsm"
    shutil.copyfile(built, copy)
    before = copy.read_bytes()
    out = convert(copy, "xlsx", tmp_path / "lo")
    assert copy.read_bytes() == before
    wb = load_workbook(out)
    assert wb.sheetnames == [
        sec.SHEET_HELP,
        sec.SHEET_CONTROL,
        sec.SHEET_EXAMPLE,
        sec.SHEET_DATA,
        sec.SHEET_CONF,
    ]
    assert wb[sec.SHEET_CONTROL][sec.control_cell("szqa_year")].value == 2027
    assert wb[sec.SHEET_CONTROL][sec.ACTION_CELL].value == sec.action_labels()[0]
    assert (
        wb[sec.SHEET_CONF]["A6"].value == "UDF Modules" and wb[sec.SHEET_CONF]["B6"].value == "szqa_xl.udfs"
    )
    assert parts(built)[sec.VBA_PART] == parts(sec.TEMPLATE)[sec.VBA_PART]


# -- the steps' Python side ------------------------------------------------------------------------


@pytest.fixture
def control(built, tmp_path) -> sec.Control:
    (tmp_path / "名单.csv").write_text(ROSTER, encoding="utf-8")
    return sec.read_control(named_values(built).get, base_dir=tmp_path)


def fill_returns(control: sec.Control) -> None:
    from szqa_xl.demo import Score, band_for, fill_scoresheet
    from szqa_xl.scoresheet.generate import read_manifest
    from szqa_xl.standards.load import builtin_standard

    for i, row in enumerate(read_manifest(control.manifest)):
        std = builtin_standard(row["award_category"])
        scores = {}
        for j, u in enumerate(std.units()):
            pct = [60, 65, 70, 30][(i + j) % 4] if i != 1 else 80
            scores[u.code] = Score(band_for(std, u.kind, pct), pct, "优势", "改进", "P1")
        fill_scoresheet(
            control.scoresheets_dir / row["path"], control.returns_dir / Path(row["path"]).name, scores
        )


def test_generate_then_consolidate_like_the_run_button(control):
    msg = sec.run_action("generate", control)
    assert "已生成 3 份评分表" in msg
    assert control.manifest.is_file()
    with pytest.raises(InputError, match="已经发放过"):
        sec.run_action("generate", control)
    fill_returns(control)
    msg = sec.run_action("consolidate", control)
    assert "已合并 3 份" in msg and "拒收 0" in msg
    scores = control.output_dir / "scores.csv"
    assert (control.output_dir / "consolidated.xlsx").is_file() and scores.is_file()
    with pytest.raises(InputError, match="已有汇总结果"):
        sec.run_action("consolidate", control)
    # the 汇总数据 sheet's formula gives the same table as the button's scores.csv
    table = udfs.szqa_consolidate("2_回收", "1_评分表/manifest.csv", 2027, 1, str(control.roster.parent))
    rows = list(csv.reader(io.StringIO(scores.read_text(encoding="utf-8-sig"))))
    assert len(table) == len(rows) == 1 + 18 * 2 + 16
    assert [[str(v) if not isinstance(v, float) else f"{v:g}" for v in row] for row in table] == rows


def test_force_regenerates_and_overwrites(control):
    sec.run_action("generate", control)
    first = control.manifest.read_text(encoding="utf-8-sig")
    forced = dataclasses.replace(control, force=True)
    sec.run_action("generate", forced)
    assert control.manifest.read_text(encoding="utf-8-sig") != first, "new issue ids"
    fill_returns(control)
    sec.run_action("consolidate", forced)
    assert "已合并" in sec.run_action("consolidate", forced)


def test_roster_problems_write_nothing(control):
    control.roster.write_text(ROSTER + "XX-9,某公司,finance,organisation,E9,某人\n", encoding="utf-8")
    msg = sec.run_action("generate", control)
    assert "名单有 1 处问题" in msg and "finance" in msg
    assert not control.scoresheets_dir.exists()


@pytest.mark.parametrize(
    "change, action, words",
    [
        ({"roster": None}, "generate", "名单文件"),
        ({"year": None}, "generate", "评审年度"),
        ({"returns_dir": None}, "consolidate", "回收文件夹"),
        ({"output_dir": None}, "open_output", "汇总输出文件夹"),
    ],
)
def test_missing_settings_are_named(control, change, action, words):
    with pytest.raises(InputError, match=words):
        sec.run_action(action, dataclasses.replace(control, **change))


def test_missing_folders_are_named(control):
    with pytest.raises(InputError, match="回收文件夹不存在"):
        sec.run_action("consolidate", control)
    with pytest.raises(InputError, match="尚不存在"):
        sec.run_action("open_output", control)


def test_bad_control_values_are_named(built, tmp_path):
    values = named_values(built)
    for name, bad, words in (
        ("szqa_year", "明年", "评审年度"),
        ("szqa_force", "也许", "覆盖已有结果"),
        ("szqa_bands_apart", -1, "相隔区间数"),
    ):
        with pytest.raises(InputError, match=words):
            sec.read_control({**values, name: bad}.get, base_dir=tmp_path)


def test_build_workbooks_writes_the_secretariat_workbook(tmp_path):
    from szqa_xl.scoresheet.templates import build_workbooks

    paths = build_workbooks(tmp_path)
    assert tmp_path / sec.WORKBOOK_FILE in paths
    assert parts(tmp_path / sec.WORKBOOK_FILE) == parts(sec.build_secretariat_workbook(tmp_path / "b.xlsm"))


def test_the_later_steps_like_the_run_button(control, demo_year):
    """定稿 → 入围名单 → 最终排名 → 归档 with the 控制 sheet's defaults, on a year the demo produced."""
    import dataclasses
    import shutil

    year = control.roster.parent
    shutil.copytree(demo_year.output, year / "3_汇总")
    c = dataclasses.replace(control, output_dir=year / "3_汇总", results_dir=year / "4_定稿")
    msg = sec.run_action("finalize", c)
    assert "已定稿 7 份共识表" in msg and (year / "4_定稿" / "results.xlsx").is_file()
    msg = sec.run_action("shortlist", dataclasses.replace(c, shortlist_top=2))
    roster = year / "4_定稿" / "现场核查名单.csv"
    assert roster.is_file() and "每类前 2 名" in msg
    with roster.open(encoding="utf-8-sig") as fh:
        assert len({r["applicant_id"] for r in csv.DictReader(fh)}) == 4
    (year / "排名规则.yaml").write_text("rule: last\nstages: [材料评审]\n", encoding="utf-8")
    c = dataclasses.replace(c, stage_results=(year / "4_定稿",), rule_file=year / "排名规则.yaml")
    msg = sec.run_action("final_ranking", c)
    assert (year / "最终排名" / "final.xlsx").is_file() and "最终排名" in msg
    msg = sec.run_action("archive", c)
    assert c.archive is not None and c.archive.is_file() and "完好" not in msg
    from szqa_xl.stages.archive import verify_archive

    assert verify_archive(c.archive).ok
