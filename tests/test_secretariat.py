"""The secretariat workbook (built from the xlwings standalone template) and its macros.

Checks that the committed ``workbook/szqa_secretariat.xlsm`` is what the code builds,
that its VBA project is the template's byte for byte, that the xlwings.conf keys are
spelt as xlwings reads them (from xlwings' own source, at test time), that LibreOffice
opens it, and runs the macros' Python side (generate, consolidate) end to end.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import xlwings
from openpyxl import load_workbook

from szqa_xl import secretariat as sec
from szqa_xl import udfs
from szqa_xl.converters import ERROR_PREFIX, InputError
from szqa_xl.libreoffice import convert, soffice

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "workbook" / "szqa_secretariat.xlsm"
MACROS = REPO / "macros"
XLWINGS_DIR = Path(xlwings.__file__).resolve().parent
INSTALLED_TEMPLATE = XLWINGS_DIR / "quickstart_standalone.xlsm"
DATES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")

ROSTER = """applicant_id,applicant_name,award_category,applicant_kind,examiner_id,examiner_name
EC-001,深圳湾精密制造有限公司,economic,organisation,E01,李明
EC-001,深圳湾精密制造有限公司,economic,organisation,E02,王芳
SO-001,福田社区健康服务中心,social,organisation,E21,赵敏
"""


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return sec.build_secretariat_workbook(tmp_path_factory.mktemp("wb") / "szqa_secretariat.xlsm")


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


def test_build_is_deterministic(built, tmp_path):
    again = sec.build_secretariat_workbook(tmp_path / "again.xlsm")
    assert again.read_bytes() == built.read_bytes()


def test_committed_workbook_is_current(built):
    """Part by part (volatile docProps dates ignored); run `szqa build-workbooks` when this fails."""
    assert COMMITTED.is_file(), "run: szqa build-workbooks --out workbook"
    wa, wb = load_workbook(COMMITTED), load_workbook(built)
    assert wa.sheetnames == wb.sheetnames
    for ws in wb.worksheets:
        got = [
            [c.value if not hasattr(c.value, "text") else c.value.text for c in row]
            for row in wa[ws.title].iter_rows()
        ]
        exp = [
            [c.value if not hasattr(c.value, "text") else c.value.text for c in row] for row in ws.iter_rows()
        ]
        assert got == exp, f"sheet {ws.title} differs: rebuild with `szqa build-workbooks --out workbook`"
    have, want = parts(COMMITTED), parts(built)
    assert sorted(have) == sorted(want)
    for name in want:
        a, b = have[name], want[name]
        if name.startswith("docProps/"):
            a, b = DATES.sub(rb"\1\3", a), DATES.sub(rb"\1\3", b)
        assert a == b, f"{name} differs: rebuild with `szqa build-workbooks --out workbook`"


@pytest.mark.parametrize("which", ["committed", "built"])
def test_vba_project_is_the_templates_byte_for_byte(built, which):
    path = COMMITTED if which == "committed" else built
    assert parts(path)[sec.VBA_PART] == parts(sec.TEMPLATE)[sec.VBA_PART]
    if INSTALLED_TEMPLATE.is_file() and xlwings.__version__ == sec.TEMPLATE_XLWINGS_VERSION:
        assert parts(path)[sec.VBA_PART] == parts(INSTALLED_TEMPLATE)[sec.VBA_PART]


def test_package_is_a_macro_enabled_workbook_with_a_spilling_formula(built):
    p = parts(built)
    ct = p["[Content_Types].xml"].decode()
    assert "application/vnd.ms-excel.sheet.macroEnabled.main+xml" in ct
    assert 'PartName="/xl/metadata.xml"' in ct
    rels = p["xl/_rels/workbook.xml.rels"].decode()
    assert "relationships/vbaProject" in rels and 'Target="metadata.xml"' in rels
    assert b'name="XLDAPR"' in p["xl/metadata.xml"]
    assert b'codeName="ThisWorkbook"' in p["xl/workbook.xml"]
    sheet = sec._sheet_parts(p)[sec.SHEET_DATA]
    xml = p[sheet].decode()
    assert re.search(
        rf'<c r="{sec.DATA_ANCHOR}"[^>]*cm="1"[^>]*><f t="array" ref="{sec.DATA_ANCHOR}">szqa_consolidate\(',
        xml,
    )
    with zipfile.ZipFile(built) as z:
        assert {i.date_time for i in z.infolist()} == {sec.ZIP_DATE}


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
        "szqa_buttons.bas",
    ):
        assert words in help_text, words
    props = {p.name: p.value for p in wb.custom_doc_props}
    assert props["xlwings_template"] == sec.TEMPLATE_SOURCE


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
    assert list(values) == [f.name for f in sec.CONTROL_FIELDS]
    assert values["szqa_bands_apart"] == 2 and values["szqa_range_points"] == 25
    assert values["szqa_year"] == 2027 and values["szqa_stage"] == "材料评审"
    assert values[sec.WORKBOOK_DIR_NAME].startswith('=IFERROR(LEFT(CELL("filename"')
    ws = load_workbook(built)[sec.SHEET_CONTROL]
    for f in sec.CONTROL_FIELDS:
        assert ws[sec.control_cell(f.name)].offset(0, -1).value == f.label


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
    assert (
        wb[sec.SHEET_CONF]["A6"].value == "UDF Modules" and wb[sec.SHEET_CONF]["B6"].value == "szqa_xl.udfs"
    )
    assert parts(built)[sec.VBA_PART] == parts(sec.TEMPLATE)[sec.VBA_PART]


# -- the macros' Python side ------------------------------------------------------------------------


@pytest.fixture
def control(built, tmp_path) -> sec.Control:
    (tmp_path / "名单.csv").write_text(ROSTER, encoding="utf-8")
    return sec.read_control(named_values(built).get, base_dir=tmp_path)


def fill_returns(control: sec.Control) -> None:
    from szqa_xl.demo import Score, band_for, fill_scoresheet
    from szqa_xl.generate import read_manifest
    from szqa_xl.standards import builtin_standard

    for i, row in enumerate(read_manifest(control.manifest)):
        std = builtin_standard(row["award_category"])
        scores = {}
        for j, u in enumerate(std.units()):
            pct = [60, 65, 70, 30][(i + j) % 4] if i != 1 else 80
            scores[u.code] = Score(band_for(std, u.kind, pct), pct, "优势", "改进", "P1")
        fill_scoresheet(
            control.scoresheets_dir / row["path"], control.returns_dir / Path(row["path"]).name, scores
        )


def test_generate_then_consolidate_like_the_buttons(control):
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


# -- VBA macro sources ------------------------------------------------------------------------------


def test_bas_modules_call_runpython_into_szqa_xl():
    files = sorted(MACROS.glob("*.bas"))
    assert files
    called = set()
    for path in files:
        raw = path.read_bytes()
        assert raw.isascii(), f"{path.name}: the VBA editor imports .bas in the ANSI code page"
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""), f"{path.name}: needs CRLF"
        text = raw.decode("ascii")
        assert text.startswith('Attribute VB_Name = "')
        subs = re.findall(
            r"Public Sub (\w+)\(\)\r\n(?:\s*'[^\r\n]*\r\n)*\s*RunPython \"([^\"]+)\"\r\nEnd Sub", text
        )
        assert len(subs) == len(re.findall(r"^(?:Public |Private )?Sub \w+", text, re.M)), (
            "every Sub is a RunPython call"
        )
        for sub, command in subs:
            m = re.fullmatch(r"import szqa_xl\.udfs as u; u\.(\w+)\(\)", command)
            assert m, command
            called.add(m.group(1))
            assert sub in (MACROS / "README.md").read_text(encoding="utf-8")
    assert called == {"macro_generate", "macro_consolidate", "macro_open_output"}
    for name in called:
        assert callable(getattr(udfs, name))


def test_build_workbooks_writes_the_secretariat_workbook(tmp_path):
    from szqa_xl.templates import build_workbooks

    paths = build_workbooks(tmp_path)
    assert tmp_path / "szqa_secretariat.xlsm" in paths
    assert parts(tmp_path / "szqa_secretariat.xlsm") == parts(
        sec.build_secretariat_workbook(tmp_path / "b.xlsm")
    )
