"""Every XML part of every kind of workbook the project writes is valid ECMA-376 (transitional).

Excel refuses or "repairs" files that LibreOffice opens without a word; schema validation is
the closest check to Excel we have.  The schemas are in ``../shared/ooxml-xsd`` beside the
checkout; without them (or without lxml) these tests skip, unless ``SZQA_REQUIRE_SCHEMAS=1``
(CI) makes that a failure.  How a part is matched to its schema, and what is not validated
(binary parts), is in ``tests/ooxml_schemas.py``.

Workbooks checked: a personalised scoresheet of each award category and applicant kind, the
six committed blank templates, the demo's consolidated workbook, a consolidated workbook of
many returns (60 here; 1,000 in the ``slow`` run), and the committed secretariat .xlsm.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path

import pytest
from ooxml_schemas import CONTENT_TYPES_PART, SML, check_package, load_schemas, require_schemas, short

from szqa_xl.standards.load import builtin_standard
from szqa_xl.standards.models import AWARD_IDS

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "workbook" / "templates"
SECRETARIAT = REPO / "workbook" / "szqa_secretariat.xlsm"
YEAR = 2027
PANEL = ("E01", "E02", "E03", "E04", "E05")
EXAMINER_NAMES = {"E01": "李明", "E02": "王芳", "E03": "陈强", "E04": "刘洋", "E05": "赵静"}
PREFIX = {
    "economic": "EC",
    "culture": "CU",
    "social": "SO",
    "ecology": "EL",
    "management": "MG",
    "service": "SV",
}
MANY = 60
MANY_SLOW = 1000
SHOW_ERRORS = 3
"""Errors printed per invalid part (the count of the rest follows)."""

WORKBOOK_ROOT = f"{{{SML}}}workbook"
WORKSHEET_ROOT = f"{{{SML}}}worksheet"
VBA_PROJECT = "xl/vbaProject.bin"


@pytest.fixture(scope="session")
def schemas() -> Path:
    """Skip (or fail) before anything is generated when the schemas cannot be used."""
    folder = require_schemas()
    for note in load_schemas(folder).workarounds:
        print(f"schema workaround: {note}")
    return folder


def assert_valid(path: Path, skipped_allowed: frozenset[str] = frozenset()) -> None:
    """0 invalid parts in ``path``; only the parts named in ``skipped_allowed`` may go unvalidated."""
    results = check_package(path)
    invalid = [r for r in results if r.invalid]
    lines = []
    for r in invalid:
        more = f" (+{len(r.errors) - SHOW_ERRORS} more)" if len(r.errors) > SHOW_ERRORS else ""
        lines.append(f"{r.part} [{r.content_type}]: " + " | ".join(r.errors[:SHOW_ERRORS]) + more)
    assert not invalid, f"{len(invalid)} of {len(results)} parts of {path.name} are invalid:\n" + "\n".join(
        lines
    )
    skipped = {r.part: r.checked_as for r in results if r.skipped}
    kinds = sorted({short(r.checked_as) for r in results if not r.skipped})
    print(
        f"{path.name}: {len(results) - len(skipped)} parts valid ({', '.join(kinds)}); not validated: {skipped}"
    )
    assert set(skipped) == set(skipped_allowed), f"parts not validated in {path.name}: {skipped}"
    roots = [r.checked_as for r in results if not r.skipped]
    assert CONTENT_TYPES_PART in {r.part for r in results}
    assert roots.count(WORKBOOK_ROOT) == 1, f"{path.name}: {roots.count(WORKBOOK_ROOT)} workbook parts"
    assert WORKSHEET_ROOT in roots, f"{path.name}: no worksheet part validated"


# -- personalised scoresheets -------------------------------------------------------------------

SCORESHEET_CASES = [(award, kind) for award in AWARD_IDS for kind in builtin_standard(award).applicant_kinds]


def _scoresheet_roster() -> str:
    """One applicant per (award, kind); names with the characters XML must escape."""
    head = "applicant_id,applicant_name,award_category,applicant_kind,examiner_id,examiner_name,stage\n"
    rows = []
    for k, (award, kind) in enumerate(SCORESHEET_CASES):
        name = f"\"{PREFIX[award]}{k} 深圳湾 <测试> & '质量' 研究院\""
        rows.append(f"{PREFIX[award]}-{k:03d},{name},{award},{kind},E01,李明 & <王芳>,材料评审\n")
    return head + "".join(rows)


@pytest.fixture(scope="session")
def scoresheets(schemas, tmp_path_factory) -> dict[tuple[str, str], Path]:
    from szqa_xl.scoresheet.generate import generate, read_manifest

    root = tmp_path_factory.mktemp("schema_scoresheets")
    roster = root / "roster.csv"
    roster.write_text(_scoresheet_roster(), encoding="utf-8")
    res = generate(roster, YEAR, root / "sheets")
    assert not res.problems, res.problems
    out = {}
    for row in read_manifest(res.manifest):
        out[(row["award_category"], row["applicant_kind"])] = root / "sheets" / row["path"]
    assert sorted(out) == sorted(SCORESHEET_CASES)
    return out


@pytest.mark.parametrize(("award", "kind"), SCORESHEET_CASES, ids=[f"{a}-{k}" for a, k in SCORESHEET_CASES])
def test_scoresheet(scoresheets, award, kind):
    assert_valid(scoresheets[(award, kind)])


def test_every_award_category_has_a_scoresheet_case():
    assert {a for a, _ in SCORESHEET_CASES} == set(AWARD_IDS) and len(AWARD_IDS) == 6


# -- blank templates ----------------------------------------------------------------------------

TEMPLATE_FILES = sorted(TEMPLATES.glob("*.xlsx"))


def test_six_blank_templates_are_checked():
    assert len(TEMPLATE_FILES) == 6, [p.name for p in TEMPLATE_FILES]
    assert {p.name.split("_", 1)[0] for p in TEMPLATE_FILES} == set(AWARD_IDS)


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=[p.name.split("_", 1)[0] for p in TEMPLATE_FILES])
def test_blank_template(schemas, path):
    assert_valid(path)


# -- the secretariat workbook -------------------------------------------------------------------


def test_secretariat_workbook(schemas):
    assert_valid(SECRETARIAT, skipped_allowed=frozenset({VBA_PROJECT}))


# -- consolidated workbooks ---------------------------------------------------------------------


def test_demo_consolidated_workbook(schemas, tmp_path):
    from szqa_xl.demo import run_demo

    res = run_demo(tmp_path / "demo")
    assert res.workbook.exists()
    assert_valid(res.workbook)


@pytest.fixture(scope="session")
def pool(schemas, tmp_path_factory) -> dict[tuple[str, str], dict[str, str]]:
    """A faithfully generated and filled panel of 5 returns for each award category.

    Keyed by (award, examiner id); each value is the manifest row plus ``file`` (the filled return).
    The third examiner of each panel leaves some units blank (an incomplete return).
    """
    import random

    from szqa_xl.demo import fill_scoresheet, simulate_scores
    from szqa_xl.scoresheet.generate import generate, read_manifest
    from szqa_xl.standards import grid

    root = tmp_path_factory.mktemp("schema_pool")
    head = "applicant_id,applicant_name,award_category,applicant_kind,examiner_id,examiner_name,stage\n"
    rows = [
        f"POOL{PREFIX[a]}-0,深圳测试池{PREFIX[a]}样本企业,{a},organisation,{e},{EXAMINER_NAMES[e]},材料评审\n"
        for a in AWARD_IDS
        for e in PANEL
    ]
    roster = root / "roster.csv"
    roster.write_text(head + "".join(rows), encoding="utf-8")
    res = generate(roster, YEAR, root / "sheets")
    assert not res.problems, res.problems
    out = {}
    for row in read_manifest(res.manifest):
        std = builtin_standard(row["award_category"])
        rng = random.Random(f"{row['award_category']}-{row['examiner_id']}")
        quality = {u.code: grid.snap(rng.randint(20, 90)) for u in std.units()}
        pos = PANEL.index(row["examiner_id"])
        scores = simulate_scores(std, quality, (10, -10, 0, 0, 0)[pos], rng, blanks=2 if pos == 2 else 0)
        filled = fill_scoresheet(
            root / "sheets" / row["path"], root / "returns" / Path(row["path"]).name, scores
        )
        out[(row["award_category"], row["examiner_id"])] = {**row, "file": str(filled)}
    return out


def _patch_copy(src: Path, dst: Path, replace: list[tuple[bytes, bytes]]) -> None:
    """Copy a return replacing identity strings (unique markers in the pool) in every XML part."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith((".xml", ".rels")):
                for old, new in replace:
                    data = data.replace(old, new)
            zout.writestr(info, data, compress_type=info.compress_type)


def _many_returns(pool: dict, n: int, root: Path) -> tuple[Path, Path]:
    """``n`` returns (panels of 5, award categories in turn) copied from the pool with new
    applicants and issue ids, and their manifest, as if ``generate`` had issued them."""
    import uuid

    from szqa_xl.scoresheet.generate import MANIFEST_COLUMNS

    returns = root / "returns"
    returns.mkdir(parents=True)
    manifest_rows = []
    for i in range(n):
        a, pos = divmod(i, len(PANEL))
        award = AWARD_IDS[a % len(AWARD_IDS)]
        src = pool[(award, PANEL[pos])]
        new = dict(src)
        new["applicant_id"] = f"{PREFIX[award]}-{a:05d}"
        new["applicant_name"] = f"深圳测试企业{a:05d}号"
        new["issue_id"] = uuid.uuid4().hex
        new["path"] = f"{new['applicant_id']}_{new['examiner_id']}.xlsx"
        replace = [(src[k].encode(), new[k].encode()) for k in ("issue_id", "applicant_id", "applicant_name")]
        _patch_copy(Path(src["file"]), returns / new["path"], replace)
        manifest_rows.append(new)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(manifest_rows)
    manifest = root / "manifest.csv"
    manifest.write_text(buf.getvalue(), encoding="utf-8-sig")
    return returns, manifest


def _consolidated_of_many(pool: dict, n: int, root: Path) -> Path:
    from szqa_xl.consolidation.batch import consolidate_dir, write_outputs

    returns, manifest = _many_returns(pool, n, root)
    cons = consolidate_dir(returns, manifest=manifest, year=YEAR)
    counts = cons.counts()
    # Every copy must really be merged, or the workbook would not hold n returns.
    assert counts["accepted"] + counts["incomplete"] == n, (counts, cons.returns[:3])
    assert counts["incomplete"] > 0
    return write_outputs(cons, root / "out")["workbook"]


@pytest.mark.parametrize("rows_flushed", [False, True], ids=["cells-kept", "constant-memory"])
def test_consolidated_workbook_of_many_returns(pool, tmp_path, monkeypatch, rows_flushed):
    """Valid in both ways of writing it: cells kept with shared strings (the usual size), and row by
    row with inline strings (above ``LARGE_SCORE_ROWS``, forced here on the same returns)."""
    from szqa_xl.consolidation import report

    if rows_flushed:
        monkeypatch.setattr(report, "LARGE_SCORE_ROWS", 0)
    path = _consolidated_of_many(pool, MANY, tmp_path)
    with zipfile.ZipFile(path) as z:
        assert ("xl/sharedStrings.xml" in z.namelist()) is not rows_flushed
    assert_valid(path)


@pytest.mark.slow
def test_consolidated_workbook_of_1000_returns(pool, tmp_path):
    try:
        assert_valid(_consolidated_of_many(pool, MANY_SLOW, tmp_path))
    finally:
        shutil.rmtree(tmp_path / "returns", ignore_errors=True)


# -- the checker itself -------------------------------------------------------------------------
# Each case breaks one part of a committed template and names the message the checker must give
# for that part, so a checker that silently passes everything cannot go unnoticed.

RELS = "xl/_rels/workbook.xml.rels"
SHEET = "xl/worksheets/sheet1.xml"
STYLES = "xl/styles.xml"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
X14AC = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"


def _override(part: str, ctype: str):
    tag = f'<Override PartName="/{part}" ContentType="{ctype}"/></Types>'.encode()
    return {CONTENT_TYPES_PART: lambda d: d.replace(b"</Types>", tag)}


def _with_x14ac(ignorable: bool):
    def edit(d: bytes) -> bytes:
        head = f'<worksheet xmlns:mc="{MC}" xmlns:x14ac="{X14AC}"'
        if ignorable:
            head += ' mc:Ignorable="x14ac"'
        d = d.replace(b"<worksheet", head.encode(), 1)
        return d.replace(b"<row ", b'<row x14ac:dyDescent="0.25" ', 1)

    return {SHEET: edit}


CHECKER_CASES = {
    "element not in the schema": (
        {SHEET: lambda d: d.replace(b"<sheetData>", b"<sheetData><bogus/>", 1)},
        {},
        SHEET,
        "bogus",
    ),
    "not well-formed": ({SHEET: lambda d: d[: len(d) // 2]}, {}, SHEET, "not well-formed"),
    "wrong root element": (
        {STYLES: lambda d: f'<sst xmlns="{SML}" count="0" uniqueCount="0"/>'.encode()},
        {},
        STYLES,
        "root element is x:sst, expected x:styleSheet",
    ),
    "wrong relationship type": (
        {RELS: lambda d: d.replace(f'{R_NS}styles"'.encode(), f'{R_NS}chart"'.encode())},
        {},
        STYLES,
        f"reached by relationship type {R_NS}chart",
    ),
    "dangling relationship": (
        {
            RELS: lambda d: d.replace(
                b"</Relationships>",
                f'<Relationship Id="rId999" Type="{R_NS}worksheet" Target="worksheets/gone.xml"/>'
                "</Relationships>".encode(),
            )
        },
        {},
        RELS,
        "'worksheets/gone.xml', which is not in the package",
    ),
    "unknown content type": (
        _override("xl/extra.xml", "application/vnd.example.unknown+xml"),
        {"xl/extra.xml": b"<extra/>"},
        "xl/extra.xml",
        "no schema known for content type 'application/vnd.example.unknown+xml'",
    ),
    "no content type": ({}, {"xl/extra.nosuchext": b"<extra/>"}, "xl/extra.nosuchext", "no content type"),
    "non-ignorable extension attribute": (_with_x14ac(False), {}, SHEET, "dyDescent"),
}


def _mutated(src: Path, dst: Path, edits: dict, extra: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        names = set(zin.namelist())
        assert set(edits) <= names, sorted(set(edits) - names)
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename in edits:
                changed = edits[info.filename](data)
                assert changed != data, f"the edit of {info.filename} changed nothing"
                data = changed
            zout.writestr(info, data)
        for name, data in extra.items():
            zout.writestr(name, data)
    return dst


@pytest.mark.parametrize("case", list(CHECKER_CASES))
def test_checker_reports_a_broken_part(schemas, tmp_path, case):
    edits, extra, part, words = CHECKER_CASES[case]
    bad = _mutated(TEMPLATE_FILES[0], tmp_path / "bad.xlsx", edits, extra)
    errors = {r.part: r.errors for r in check_package(bad)}
    assert any(words in e for e in errors.get(part, [])), errors.get(part)


def test_checker_drops_ignorable_markup_as_excel_does(schemas, tmp_path):
    """mc:Ignorable content is what an ECMA-376 consumer skips; the same part without it is invalid."""
    before = {r.part: r.errors for r in check_package(TEMPLATE_FILES[0])}
    ok = _mutated(TEMPLATE_FILES[0], tmp_path / "ok.xlsx", _with_x14ac(True), {})
    after = {r.part: r.errors for r in check_package(ok)}
    assert after[SHEET] == before[SHEET]


MCE_CASES = {
    "ignorable attribute and element dropped": (
        f'<r xmlns="{SML}" xmlns:mc="{MC}" xmlns:e="urn:ext" mc:Ignorable="e" e:a="1"><e:x/>t<b/></r>',
        f'<r xmlns="{SML}" xmlns:mc="{MC}" xmlns:e="urn:ext">t<b/></r>',
        [],
    ),
    "not ignorable: kept for the schema to reject": (
        f'<r xmlns="{SML}" xmlns:e="urn:ext" e:a="1"><e:x/></r>',
        f'<r xmlns="{SML}" xmlns:e="urn:ext" e:a="1"><e:x/></r>',
        [],
    ),
    "alternate content: the fallback when the choice is not understood": (
        f'<r xmlns="{SML}" xmlns:mc="{MC}" xmlns:e="urn:ext"><mc:AlternateContent>'
        '<mc:Choice Requires="e"><e:x/></mc:Choice><mc:Fallback><b/></mc:Fallback></mc:AlternateContent></r>',
        f'<r xmlns="{SML}" xmlns:mc="{MC}" xmlns:e="urn:ext"><b/></r>',
        [],
    ),
    "alternate content: an understood choice": (
        f'<r xmlns="{SML}" xmlns:mc="{MC}" xmlns:a="{SML}"><mc:AlternateContent>'
        '<mc:Choice Requires="a"><c/></mc:Choice><mc:Fallback><b/></mc:Fallback></mc:AlternateContent></r>',
        f'<r xmlns="{SML}" xmlns:mc="{MC}" xmlns:a="{SML}"><c/></r>',
        [],
    ),
    "must understand an unknown namespace": (
        f'<r xmlns="{SML}" xmlns:mc="{MC}" xmlns:e="urn:ext" mc:MustUnderstand="e"/>',
        f'<r xmlns="{SML}" xmlns:mc="{MC}" xmlns:e="urn:ext"/>',
        ["mc:MustUnderstand names urn:ext"],
    ),
}


@pytest.mark.parametrize("case", list(MCE_CASES))
def test_markup_compatibility_as_an_ecma_376_consumer(schemas, case):
    from lxml import etree
    from ooxml_schemas import apply_markup_compatibility

    given, expected, words = MCE_CASES[case]
    root = etree.fromstring(given)
    errors = apply_markup_compatibility(root, load_schemas().namespaces)
    assert etree.tostring(root).decode() == expected
    assert len(errors) == len(words) and all(w in e for w, e in zip(words, errors, strict=True)), errors


def _xlsxwriter_reference(path: Path, vba: Path) -> Path:
    """A macro workbook with what the project's plans hold, written by XlsxWriter (tested against
    files Excel made): a form button, a comment, a spilling formula, a list validation, a chart."""
    xlsxwriter = pytest.importorskip("xlsxwriter")
    wb = xlsxwriter.Workbook(str(path))
    wb.add_vba_project(str(vba))
    wb.set_properties({"title": "参考 & <x>"})
    wb.set_custom_property("szqa", "1")
    ws = wb.add_worksheet("控制")
    ws.write_string(0, 0, "生成评分表")
    ws.write_dynamic_array_formula("B1:B2", "=_xlfn.UNIQUE(A1:A2)")
    ws.data_validation("C1", {"validate": "list", "source": ["生成评分表", "汇总回收文件"]})
    ws.write_comment("A1", "说明 & <注释>")
    ws.insert_button("D2", {"macro": "SampleCall", "caption": "运行"})
    ws.protect()
    chart = wb.add_chart({"type": "bar"})
    chart.add_series({"values": "=控制!$A$1:$A$2", "name": "共识总分"})
    ws.insert_chart("F2", chart)
    wb.close()
    return path


def test_checker_accepts_what_xlsxwriter_writes_and_checks_its_vml(schemas, tmp_path):
    vba = tmp_path / "vbaProject.bin"
    with zipfile.ZipFile(SECRETARIAT) as z:
        vba.write_bytes(z.read(VBA_PROJECT))
    ref = _xlsxwriter_reference(tmp_path / "reference.xlsm", vba)
    assert_valid(ref, skipped_allowed=frozenset({VBA_PROJECT}))
    results = {r.part: r for r in check_package(ref)}
    vml = [
        p
        for p, r in results.items()
        if r.content_type == "application/vnd.openxmlformats-officedocument.vmlDrawing"
    ]
    assert vml, sorted(results)
    bad = _mutated(
        ref,
        tmp_path / "bad.xlsm",
        {vml[0]: lambda d: d.replace(b'ObjectType="Button"', b'ObjectType="Buttn"')},
        {},
    )
    errors = {r.part: r.errors for r in check_package(bad)}[vml[0]]
    assert any("'Buttn' is not an element of the set" in e for e in errors), errors
