"""The xlwings UDFs of ``szqa_xl.udfs``, called directly as plain Python.

xlwings' decorators are no-ops outside Windows, so the functions are called with the
values xlwings would hand over under the shared converter options
(:data:`szqa_xl.excel.converters.RANGE_2D`: a list of rows, blanks as None) and compared with
the core (:mod:`szqa_xl.standards.grid`, :func:`szqa_xl.consolidation.batch.consolidate_dir`).  The decorators
themselves are checked against xlwings' real Windows implementation with pywin32
stubbed out.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import datetime as dt
import importlib
import importlib.util
import io
import math
import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
import xlwings as xw
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from szqa_xl import udfs
from szqa_xl.cli import app
from szqa_xl.consolidation import batch
from szqa_xl.demo import fill_scoresheet, simulate_scores
from szqa_xl.excel.converters import CELL, ERROR_PREFIX, FUNCTION_CATEGORY, RANGE_2D, pct_values
from szqa_xl.scoresheet.generate import generate, read_manifest
from szqa_xl.standards import grid
from szqa_xl.standards.load import builtin_standard
from szqa_xl.standards.models import AWARD_IDS, KIND_ZH
from szqa_xl.xlsx.textsafe import csv_safe

REPO = Path(__file__).resolve().parent.parent
MY_SOURCES = sorted([*(REPO / "szqa_xl").rglob("*.py"), *(REPO / "szqa_secretariat").rglob("*.py")])
UDF_NAMES = ("szqa_weighted_total", "szqa_band", "szqa_consensus", "szqa_spread", "szqa_consolidate")
MACRO_NAMES = ("macro_generate", "macro_consolidate", "macro_open_output")
ECON = builtin_standard("economic")
CULTURE = builtin_standard("culture")


def column(values):
    """A column range as xlwings passes it with RANGE_2D (ndim=2): one single-cell row per cell."""
    return [[v] for v in values]


def is_error(value) -> bool:
    return isinstance(value, str) and value.startswith(ERROR_PREFIX)


# -- the module itself ------------------------------------------------------------------


def test_module_imports_in_a_fresh_interpreter_without_pro_server_or_reports():
    code = (
        "import sys, xlwings\n"
        "before = set(sys.modules)\n"
        "import szqa_xl.udfs, szqa_xl.excel.secretariat, szqa_xl.excel.converters\n"
        "new = set(sys.modules) - before\n"
        "bad = sorted(m for m in new if m.split('.')[:2] in (['xlwings', 'pro'], ['xlwings', 'server'], ['xlwings', 'reports']))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", MY_SOURCES, ids=lambda p: p.name)
def test_sources_use_only_the_bsd_part_of_xlwings(path):
    """No import of xlwings.pro, xlwings.server or xlwings.reports, in any spelling."""
    text = path.read_text(encoding="utf-8")
    forbidden = ("xlwings.pro", "xlwings.server", "xlwings.reports")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            mods = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for m in mods:
            assert not m.startswith(forbidden), f"{path.name}:{node.lineno} imports {m}"
    for word in forbidden:  # the grep: not even in a string passed to import_module
        assert word not in text, f"{path.name} mentions {word}"


def test_converter_options_are_the_shared_constants():
    assert RANGE_2D == {"ndim": 2, "empty": None}
    assert CELL == {"empty": None}


@pytest.fixture
def windows_udfs(monkeypatch):
    """szqa_xl.udfs decorated by xlwings' real Windows decorators (pywin32 stubbed out)."""
    for name in ("pythoncom", "pywintypes", "win32com", "win32com.client"):
        monkeypatch.setitem(sys.modules, name, mock.MagicMock())
    had = "xlwings.udfs" in sys.modules
    xl_udfs = importlib.import_module("xlwings.udfs")
    monkeypatch.setattr(xw, "func", xl_udfs.xlfunc)
    monkeypatch.setattr(xw, "arg", xl_udfs.xlarg)
    monkeypatch.setattr(xw, "ret", xl_udfs.xlret)
    monkeypatch.setattr(xw, "sub", xl_udfs.xlsub, raising=False)
    spec = importlib.util.spec_from_file_location("szqa_udfs_as_on_windows", udfs.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield xl_udfs, module
    if not had:
        sys.modules.pop("xlwings.udfs", None)
        if hasattr(xw, "udfs"):
            delattr(xw, "udfs")


def test_decorators_register_as_xlwings_does_on_windows(windows_udfs):
    xl_udfs, module = windows_udfs
    for name in UDF_NAMES:
        info = getattr(module, name).__xlfunc__
        assert info["sub"] is False
        assert info["category"] == FUNCTION_CATEGORY
        assert info["ret"]["options"] == {}, "no expand=: Excel 365 spills natively"
        for a in info["args"]:
            assert a["options"] in (RANGE_2D, CELL), (name, a["name"], a["options"])
            assert "convert" not in a["options"], f"{name}({a['name']}) got a converter from a type hint"
            assert not a["doc"].startswith("Positional argument"), (name, a["name"])
    args = {a["name"]: a["options"] for a in module.szqa_weighted_total.__xlfunc__["args"]}
    assert args == {"points": RANGE_2D, "pcts": RANGE_2D, "award": CELL}
    for name in MACRO_NAMES:
        info = getattr(module, name).__xlfunc__
        assert info["sub"] is True and info["args"] == []
    buf = io.StringIO()
    xl_udfs.generate_vba_wrapper("szqa_xl.udfs", module, buf, SimpleNamespace(Name="szqa_secretariat.xlsm"))
    vba = buf.getvalue()
    assert "Function szqa_weighted_total(points, pcts, Optional award)" in vba
    assert "Function szqa_band(pct, award, kind, Optional all_bands)" in vba
    assert (
        "Function szqa_consolidate(returns_dir, Optional manifest, Optional award_year, Optional refresh, Optional base_dir)"
        in vba
    )
    assert "Sub macro_generate()" in vba
    assert 'XLPy.CallUDF("szqa_xl.udfs", "szqa_consensus"' in vba


# -- percentages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cells, expected",
    [
        ([80, 85.0, None, "  "], [80, 85, None, None]),
        (["80%", "８５％", "0.85", "70"], [80, 85, 0.85, 70]),
        ([0.8, 0.85, 1, None], [80, 85, 100, None]),  # cells formatted as percent
        ([0.5, 60], [0.5, 60]),  # mixed: 0.5 stays and is off-grid
        ([0, 1], [0, 1]),  # no fractional part: whole percentages
        ([[65, 70], [None, "75%"]], [65, 70, None, 75]),
    ],
)
def test_pct_values(cells, expected):
    assert pct_values(cells) == expected


# -- weighted total --------------------------------------------------------------------------

POINTS = [u.points for u in ECON.units()]
PCTS = [70, 65, 60, 55, 60, 45, 75, 70, 65, 50, 55, 45, 65, 60, 50, 70, 65, 55]


def core_total(points, pcts) -> float:
    return sum(grid.unit_score(p, q) for p, q in zip(points, pcts, strict=True))


def test_weighted_total_matches_core():
    assert udfs.szqa_weighted_total(column(POINTS), column(PCTS)) == pytest.approx(core_total(POINTS, PCTS))
    assert sum(POINTS) == 500


def test_weighted_total_accepts_text_floats_and_percent_cells():
    as_text = [f"{p}%" for p in PCTS]
    as_float = [float(p) for p in PCTS]
    as_fraction = [p / 100 for p in PCTS]
    expected = core_total(POINTS, PCTS)
    for pcts in (as_text, as_float, as_fraction):
        assert udfs.szqa_weighted_total(column(POINTS), column(pcts), "经济类") == pytest.approx(expected)
    # a row range and a column range of the same size
    assert udfs.szqa_weighted_total([POINTS], column(PCTS)) == pytest.approx(expected)


def test_weighted_total_blanks_are_incomplete_not_low():
    pcts = list(PCTS)
    pcts[4] = None
    pcts[11] = "  "
    assert udfs.szqa_weighted_total(column(POINTS), column(pcts)) == "未完成（已评 16/18）"


def test_weighted_total_ignores_trailing_empty_rows():
    points = POINTS + [None, None]
    pcts = PCTS + [None, None]
    assert udfs.szqa_weighted_total(column(points), column(pcts)) == pytest.approx(core_total(POINTS, PCTS))


@pytest.mark.parametrize(
    "points, pcts, words",
    [
        (POINTS, PCTS[:-1] + [42], ["第18格", "42", "网格"]),
        (POINTS, PCTS[:-1] + [62.5], ["62.5"]),
        (POINTS, PCTS[:-1] + [105], ["105"]),
        (POINTS, PCTS[:-1] + ["很好"], ["很好", "不是数字"]),
        (POINTS, PCTS[:-1] + [True], ["逻辑值"]),
        (POINTS[:-1], PCTS, ["17", "18"]),
        (POINTS[:-1] + [None], PCTS, ["第18格", "没有分值"]),
        (POINTS[:-1] + [-5], PCTS, ["-5", "正数"]),
        ([None] * 3, [None] * 3, ["没有评分单元"]),
    ],
)
def test_weighted_total_bad_input_gives_error_text(points, pcts, words):
    out = udfs.szqa_weighted_total(column(points), column(pcts))
    assert is_error(out)
    for w in words:
        assert w in out


def test_weighted_total_unknown_award_is_error_text():
    out = udfs.szqa_weighted_total(column(POINTS), column(PCTS), "金融类")
    assert is_error(out) and "金融类" in out


# -- band -------------------------------------------------------------------------------------


@pytest.mark.parametrize("award", AWARD_IDS)
@pytest.mark.parametrize("kind", ["process", "result"])
def test_band_matches_core_on_every_grid_value(award, kind):
    std = builtin_standard(award)
    bands = std.guide(kind).bands
    for pct in std.grid():
        lower = grid.band_label(bands[grid.band_of_pct(std, kind, pct)])
        both = " / ".join(grid.band_label(bands[i]) for i in grid.bands_of_pct(std, kind, pct))
        assert udfs.szqa_band(pct, std.name_zh, KIND_ZH[kind]) == lower
        assert udfs.szqa_band(float(pct), award, kind) == lower
        assert udfs.szqa_band(f"{pct}%", std.name_zh.removesuffix("类"), kind) == lower
        assert udfs.szqa_band(pct, award, kind, True) == both


def test_band_at_a_shared_boundary():
    assert udfs.szqa_band(20, "文化类", "过程") == "一般水平 0～20%"
    assert udfs.szqa_band(20, "文化类", "过程", True) == "一般水平 0～20% / 较好水平 20～40%"
    assert udfs.szqa_band(0.85, "经济类", "结果") == "70～85%"  # a cell formatted as 85%


def test_band_blank_is_blank():
    assert udfs.szqa_band(None, "经济类", "过程") == ""


@pytest.mark.parametrize(
    "args, word",
    [
        ((42, "经济类", "过程"), "42"),
        ((62.5, "经济类", "过程"), "62.5"),
        ((-5, "经济类", "过程"), "-5"),
        (("高", "经济类", "过程"), "高"),
        ((60, "金融类", "过程"), "金融类"),
        ((60, None, "过程"), "奖项类别"),
        ((60, "经济类", "过程类别"), "过程类别"),
        ((60, "经济类", None), "过程 或 结果"),
        (([[60, 65]], "经济类", "过程"), "一个单元格"),
        ((60, "经济类", "过程", "也许"), "也许"),
    ],
)
def test_band_bad_input_gives_error_text(args, word):
    out = udfs.szqa_band(*args)
    assert is_error(out) and word in out


# -- consensus and spread ------------------------------------------------------------------

ROWS = [
    [70, 75, 65, 80, 70],
    [60, 65, None, 70, 60],
    [30, 50, 45, 75, 40],
    ["55%", 60.0, 0.5 * 100, None, " "],
    [80, 85],
    [20, 40],
]


@pytest.mark.parametrize("row", ROWS)
def test_consensus_matches_core(row):
    scored = [v for v in pct_values([row]) if v is not None]
    assert udfs.szqa_consensus([row]) == grid.consensus(scored)
    assert udfs.szqa_consensus(column(row), "文化类") == grid.consensus(scored, CULTURE.grid_step)


def test_consensus_snaps_half_way_up():
    assert udfs.szqa_consensus([[60, 65]]) == 65  # median 62.5 → 65
    assert udfs.szqa_consensus([[0.6, 0.65]]) == 65  # percent-formatted cells


def test_consensus_of_nothing_and_of_bad_input():
    assert udfs.szqa_consensus([[None, None]]) == "无评分"
    out = udfs.szqa_consensus([[60, 42, 70]])
    assert is_error(out) and "第2格" in out and "42" in out


@pytest.mark.parametrize("row", ROWS)
@pytest.mark.parametrize("award", ["economic", "culture"])
@pytest.mark.parametrize("kind", ["process", "result"])
def test_spread_matches_core(row, award, kind):
    std = builtin_standard(award)
    scored = [v for v in pct_values([row]) if v is not None]
    assert udfs.szqa_spread([row], std.name_zh, KIND_ZH[kind]) == grid.spread_in_bands(std, kind, scored)


def test_spread_examples_and_errors():
    assert udfs.szqa_spread([[30, 50, 45, 75, 40]], "经济类", "过程") == 2
    assert udfs.szqa_spread([[None, None]], "经济类", "过程") == 0
    assert is_error(udfs.szqa_spread([[60, 42]], "经济类", "过程"))
    assert is_error(udfs.szqa_spread([[60, 65]], "经济类", "其他"))


# -- never raise --------------------------------------------------------------------------

cell_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["80%", "经济类", "过程", "结果", "result", "%", "1e400", "nan"]),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
)
ranges = st.one_of(
    cell_values, st.lists(st.lists(cell_values, min_size=1, max_size=4), min_size=1, max_size=4)
)


@settings(max_examples=300, deadline=None)
@given(a=ranges, b=ranges, c=ranges, d=ranges)
def test_udfs_never_raise(a, b, c, d):
    for out in (
        udfs.szqa_weighted_total(a, b, c),
        udfs.szqa_band(a, b, c, d),
        udfs.szqa_consensus(a, b),
        udfs.szqa_spread(a, b, c),
    ):
        assert isinstance(out, (str, int, float)) and not isinstance(out, bool)


# -- consolidation -------------------------------------------------------------------------------

ROSTER = """applicant_id,applicant_name,award_category,applicant_kind,examiner_id,examiner_name,stage
EC-001,深圳湾精密制造有限公司,economic,organisation,E01,李明,材料评审
EC-001,深圳湾精密制造有限公司,economic,organisation,E02,王芳,材料评审
CU-001,南山创意文化园,culture,organisation,E11,陈强,材料评审
CU-001,南山创意文化园,culture,organisation,E12,刘洋,材料评审
"""


def make_returns(root: Path) -> tuple[Path, Path]:
    """Issue four scoresheets from a tiny roster and fill them as examiners would.

    The second one has two blank units (incomplete); one comment starts with '=' (so
    scores.csv neutralises it).  Returns (returns folder, manifest).
    """
    roster = root / "名单.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    result = generate(roster, 2027, root / "1_评分表")
    assert not result.problems, result.problems
    rng = random.Random(2027)
    returns = root / "2_回收"
    for i, row in enumerate(read_manifest(result.manifest)):
        std = builtin_standard(row["award_category"])
        quality = {u.code: grid.snap(rng.randint(30, 85)) for u in std.units()}
        scores = simulate_scores(std, quality, (-5, 5)[i % 2], rng, blanks=2 if i == 1 else 0)
        if i == 0:
            first = next(iter(scores))
            scores[first] = dataclasses.replace(scores[first], strengths="=方法系统，覆盖全部业务单元")
        fill_scoresheet(result.out_dir / row["path"], returns / Path(row["path"]).name, scores)
    return returns, result.manifest


@pytest.fixture(scope="module")
def returned(tmp_path_factory) -> tuple[Path, Path]:
    return make_returns(tmp_path_factory.mktemp("cycle"))


def same_cell(udf_value, csv_text: str) -> bool:
    """A UDF value against the text scores.csv holds for it."""
    if udf_value == "":
        return csv_text == ""
    if isinstance(udf_value, (int, float)) and not isinstance(udf_value, bool):
        return csv_text != "" and math.isclose(float(csv_text), udf_value, rel_tol=1e-5)
    return isinstance(udf_value, str) and csv_safe(udf_value) == csv_text


def cli_scores(returns: Path, out: Path, manifest: Path | None) -> list[list[str]]:
    args = ["consolidate", str(returns), "-o", str(out)] + (["--manifest", str(manifest)] if manifest else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = (out / "scores.csv").read_text(encoding="utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("with_manifest", [True, False], ids=["manifest", "no-manifest"])
def test_consolidate_udf_returns_the_table_of_szqa_consolidate(returned, tmp_path, with_manifest):
    returns, manifest = returned
    manifest = manifest if with_manifest else None
    table = udfs.szqa_consolidate(str(returns), str(manifest) if manifest else None, 2027.0, 1)
    expected = cli_scores(returns, tmp_path / "out", manifest)
    assert isinstance(table, list), table
    assert table[0] == batch.SCORES_CSV_COLUMNS == expected[0]
    assert len(table) == len(expected) == 1 + 18 * 2 + 16 * 2
    for r, (got, want) in enumerate(zip(table[1:], expected[1:], strict=True), start=2):
        assert len(got) == len(want)
        for name, g, w in zip(table[0], got, want, strict=True):
            assert same_cell(g, w), f"row {r} {name}: UDF {g!r} vs scores.csv {w!r}"
    values = {c: [row[i] for row in table[1:]] for i, c in enumerate(table[0])}
    assert "" in values["pct"], "blank units of the incomplete return are blank, not 0"
    assert any(isinstance(v, str) and v.startswith("=") for v in values["strengths"])
    assert all(type(v) in (str, int, float) for row in table for v in row)


def test_consolidate_udf_matches_consolidate_dir(returned):
    returns, manifest = returned
    cons = batch.consolidate_dir(returns, manifest=manifest, workers=0)
    table = udfs.szqa_consolidate(str(returns), str(manifest))
    assert len(table) - 1 == len(cons.tidy)
    assert [row[table[0].index("unit")] for row in table[1:]] == list(cons.tidy["unit"])


def test_consolidate_udf_relative_paths_need_a_base_folder(returned):
    returns, manifest = returned
    root = returns.parent
    out = udfs.szqa_consolidate("2_回收", "1_评分表/manifest.csv")
    assert is_error(out) and "相对路径" in out
    table = udfs.szqa_consolidate("2_回收", "1_评分表/manifest.csv", None, 3, str(root))
    assert table == udfs.szqa_consolidate(str(returns), str(manifest))


def test_consolidate_udf_bad_input_is_text(tmp_path):
    assert udfs.szqa_consolidate(None) == "请在「控制」表填写回收文件夹"
    out = udfs.szqa_consolidate(str(tmp_path / "nowhere"))
    assert is_error(out) and "不存在" in out
    out = udfs.szqa_consolidate(str(tmp_path), str(tmp_path / "manifest.csv"))
    assert is_error(out) and "发放清单" in out
    out = udfs.szqa_consolidate(str(tmp_path), None, "明年")
    assert is_error(out) and "评审年度" in out


def test_consolidate_udf_on_an_empty_folder_is_the_header(tmp_path):
    assert udfs.szqa_consolidate(str(tmp_path)) == [batch.SCORES_CSV_COLUMNS]
