"""The feedback report (反馈报告): what an applicant reads, read back from the saved .docx.

Expected values are computed here from the standard (points × pct / 100), never by the code under
test.  python-docx needs lxml: without it these tests skip, except the one that checks the package
still imports and says what is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from szqa_xl.consensus import feedback
from szqa_xl.consensus.feedback import feedback_document, feedback_filename, feedback_pdf, write_feedback
from szqa_xl.consensus.record import PanelRecord, UnitConsensus
from szqa_xl.standards.load import builtin_standard
from szqa_xl.standards.models import Band, Standard

try:
    import docx
except ImportError:  # a plain install without lxml
    docx = None

needs_docx = pytest.mark.skipif(docx is None, reason="python-docx (needs lxml) is not installed")

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
EXAMINERS = (("EXM-4471", "王评审甲"), ("EXM-5582", "赵评审乙"), ("EXM-6693", "钱评审丙"))
LEADER = "孙组长丁"

# -- records built by hand -------------------------------------------------------------------------

ECO_PCTS = [55, 40, 70, None, 35, 90, 0, 100, 65, 25, 50, 85, 30, 45, 60, 75, 10, 5]
CUL_PCTS = [40, 20, 55, 80, 60, None, 35, 15, 100, 0, 45, 65, 75, 25, 85, 50]  # 40/20/80/60: shared edges

ECO_1_1_STRENGTHS = (
    "· 建立了以“质量立企”为核心的文化体系\n"
    "- 领导层每季度评审文化落地情况\n"
    "\n"
    "1. 设立了文化专员岗位\n"
    "•  员工认同度调查覆盖 95% 员工"
)
ECO_1_1_STRENGTHS_SHOWN = [
    "建立了以“质量立企”为核心的文化体系",
    "领导层每季度评审文化落地情况",
    "设立了文化专员岗位",
    "员工认同度调查覆盖 95% 员工",
]
ECO_1_1_OFI = "部分分支机构尚未展开文化传递机制\r\n2、缺少与行业标杆的比较\n(3) 1.5倍增长目标缺少依据"
ECO_1_1_OFI_SHOWN = ["部分分支机构尚未展开文化传递机制", "缺少与行业标杆的比较", "1.5倍增长目标缺少依据"]


def _units(std: Standard, pcts: list[int | None]) -> dict[str, UnitConsensus]:
    units = {}
    for u, pct in zip(std.units(), pcts, strict=True):
        units[u.code] = UnitConsensus(
            code=u.code,
            pct=pct,
            reason=f"{EXAMINERS[0][1]}坚持较高分，组内讨论后取中",  # internal: never in the report
            strengths=f"{u.name}方面有系统的方法\n1) {u.code} 的做法已推广",
            ofi=f"{u.name}的评价与改进尚不充分" if u.code.endswith("1") else "",
            median=pct,
            examiner_pcts=(pct, pct, pct),
        )
    return units


def economic_record(**kw) -> PanelRecord:
    std = builtin_standard("economic")
    units = _units(std, ECO_PCTS)
    units["1.1"] = UnitConsensus("1.1", 55, strengths=ECO_1_1_STRENGTHS, ofi=ECO_1_1_OFI)
    args = dict(
        year="2027",
        award_category="economic",
        stage="材料评审",
        applicant_id="EC-001",
        applicant_name="深圳市某某科技有限公司",
        applicant_kind="organisation",
        units=units,
        examiners=EXAMINERS,
        key_themes="组织以质量文化为核心，领导作用突出。\n\n结果指标的对比数据不足。\r\n创新成果转化较快。",
        leader=LEADER,
        signed_on="2027-06-18",
        source_file="/secretariat/2027/共识_经济类_EC-001.xlsx",
        source_sha256="ab12" * 16,
    )
    args.update(kw)
    return PanelRecord(**args)


def culture_record(**kw) -> PanelRecord:
    std = builtin_standard("culture")
    args = dict(
        year="2027",
        award_category="culture",
        stage="现场核查",
        applicant_id="WH-P-007",
        applicant_name="深圳湾公共文化艺术季项目",
        applicant_kind="project",
        units=_units(std, CUL_PCTS),
        examiners=EXAMINERS[:2],
        key_themes="项目定位清晰。",
        leader=LEADER,
        source_file="共识_文化类_WH-P-007.xlsx",
        source_sha256="cd34" * 16,
    )
    args.update(kw)
    return PanelRecord(**args)


CASES = {"economic": economic_record, "culture": culture_record}


# -- reading the report back -------------------------------------------------------------------------


def expected_points(std: Standard, record: PanelRecord) -> dict[str, float | None]:
    """Each unit's points, from the standard and the record's percentages."""
    out = {}
    for u in std.units():
        pct = record.units[u.code].pct
        out[u.code] = None if pct is None else u.points * pct / 100
    return out


def expected_band(std: Standard, kind: str, pct: float) -> Band:
    """The band whose closed range holds pct; at a shared edge the higher one (the record's rule)."""
    holding = [b for b in std.guide(kind).bands if b.min <= pct <= b.max]
    assert holding, pct
    return max(holding, key=lambda b: b.min)


def write(tmp_path: Path, record: PanelRecord, std: Standard, **kw) -> Path:
    return write_feedback(record, std, tmp_path / feedback_filename(record, std), **kw)


def body(path: Path) -> list[tuple[str, str]]:
    """(style name, text) of every body paragraph, in order."""
    return [(p.style.name, p.text) for p in docx.Document(str(path)).paragraphs]


def table_rows(path: Path, index: int) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in docx.Document(str(path)).tables[index].rows]


def all_text(path: Path) -> str:
    """Every XML part of the package as text (document, header, footer, core properties …)."""
    with zipfile.ZipFile(path) as z:
        return "\n".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith((".xml", ".rels")))


UNIT_HEAD = re.compile(r"^(?P<code>\d+(?:\.\d+)*) (?P<name>.+)（(?P<points>\d+)分）$")


def unit_blocks(paras: list[tuple[str, str]], std: Standard) -> dict[str, list[tuple[str, str]]]:
    """The paragraphs under each scoring unit's heading, up to the next heading; in document order."""
    depth = std.units()[0].code.count(".")
    blocks: dict[str, list[tuple[str, str]]] = {}
    current: list | None = None
    for style, text in paras:
        if style.startswith("Heading") or style == "Title":
            m = UNIT_HEAD.match(text)
            if m and m["code"].count(".") == depth and style != "Heading 1":
                current = blocks.setdefault(f"{m['code']}|{m['name']}|{m['points']}", [])
            else:
                current = None
        elif current is not None:
            current.append((style, text))
    return blocks


def section(block: list[tuple[str, str]], start: str, stop: str | None) -> list[tuple[str, str]]:
    texts = [t for _, t in block]
    i = texts.index(start) + 1
    j = texts.index(stop) if stop else len(block)
    return block[i:j]


# -- content ------------------------------------------------------------------------------------------


@needs_docx
@pytest.mark.parametrize("award", ["economic", "culture"])
def test_header_table_says_who_what_and_when(tmp_path, award):
    std, record = builtin_standard(award), CASES[award]()
    head = dict(table_rows(write(tmp_path, record, std), 0))
    paras = body(tmp_path / feedback_filename(record, std))
    assert paras[0] == ("Title", "深圳市市长质量奖 反馈报告")
    assert head["评审年度"] == "2027"
    assert std.name_zh in head["奖项类别"] and std.title in head["奖项类别"]
    assert head["评审阶段"] == record.stage
    assert head["申报编号"] == record.applicant_id
    if award == "economic":
        assert head["申报组织"] == "深圳市某某科技有限公司"
        assert "申报类型" not in head  # economic awards go to organisations only
        assert head["共识日期"] == "2027-06-18"
    else:
        assert head["申报项目"] == "深圳湾公共文化艺术季项目"
        assert head["申报类型"] == "项目"


@needs_docx
@pytest.mark.parametrize("award", ["economic", "culture"])
def test_total_and_category_subtotals_equal_the_sum_of_points_times_pct(tmp_path, award):
    std, record = builtin_standard(award), CASES[award]()
    path = write(tmp_path, record, std)
    pts = expected_points(std, record)
    want_total = sum(v for v in pts.values() if v is not None)
    want_cat = {c.code: 0.0 for c in std.categories}
    for u in std.units():
        want_cat[u.category_code] += pts[u.code] or 0.0

    line = next(t for _, t in body(path) if t.startswith("共识总分："))
    m = re.match(r"共识总分：([\d.]+) 分（满分 500 分", line)
    assert m, line
    assert float(m[1]) == pytest.approx(want_total, abs=1e-9)
    # a unit is missing: the reader is told the total is incomplete, and which unit
    missing = next(u.code for u in std.units() if pts[u.code] is None)
    assert any("未评定" in t and missing in t and "不完整" in t for _, t in body(path))

    rows = table_rows(path, 1)
    assert rows[0][:5] == ["类目", "名称", "分值", "共识得分", "得分率"]
    cat_rows = rows[1:-1]
    assert [r[0] for r in cat_rows] == [c.code for c in std.categories]
    for row, cat in zip(cat_rows, std.categories, strict=True):
        assert row[1] == cat.name
        assert int(row[2]) == cat.points
        assert float(row[3]) == pytest.approx(want_cat[cat.code], abs=1e-9), cat.code
        assert row[4] == f"{want_cat[cat.code] / cat.points * 100:.1f}%"
    assert sum(int(r[2]) for r in cat_rows) == 500
    assert rows[-1][0] == "合计" and int(rows[-1][2]) == 500
    assert float(rows[-1][3]) == pytest.approx(want_total, abs=1e-9)


@needs_docx
@pytest.mark.parametrize("award", ["economic", "culture"])
def test_every_unit_in_standard_order_with_its_name_points_and_band(tmp_path, award):
    std, record = builtin_standard(award), CASES[award]()
    blocks = unit_blocks(body(write(tmp_path, record, std)), std)
    assert list(blocks) == [f"{u.code}|{u.name}|{u.points}" for u in std.units()]
    pts = expected_points(std, record)
    for u, block in zip(std.units(), blocks.values(), strict=True):
        texts = [t for _, t in block]
        pct = record.units[u.code].pct
        if pct is None:
            assert texts[0].startswith("共识得分率：未评定"), texts[0]
            assert not any(t.startswith("评分区间") for t in texts)
            continue
        assert texts[0].startswith(f"共识得分率：{pct}%"), texts[0]
        m = re.search(r"得分：([\d.]+) 分（满分 (\d+) 分）", texts[0])
        assert m, texts[0]
        assert float(m[1]) == pytest.approx(pts[u.code], abs=1e-9) and int(m[2]) == u.points
        band = expected_band(std, u.kind, pct)
        assert band.min <= pct <= band.max
        assert texts[1] == f"评分区间：{band.label}（{std.guide(u.kind).title}）"
        shown = texts[2 : 2 + len(band.descriptors)]
        assert shown == list(band.descriptors), u.code
        others = {d for b in std.guide(u.kind).bands if b != band for d in b.descriptors}
        assert not others & set(texts), f"{u.code}: another band's descriptor shown"


@needs_docx
def test_strengths_and_ofis_are_one_bullet_paragraph_per_line(tmp_path):
    std, record = builtin_standard("economic"), economic_record()
    blocks = unit_blocks(body(write(tmp_path, record, std)), std)
    b = blocks["1.1|文化引领|20"]
    strengths = section(b, "优势：", "改进机会：")
    assert strengths == [("List Bullet", s) for s in ECO_1_1_STRENGTHS_SHOWN]
    assert section(b, "改进机会：", None)[:3] == [("List Bullet", s) for s in ECO_1_1_OFI_SHOWN]
    # a unit whose panel wrote no OFI says so, and a multi-line text of another unit is split too
    b12 = blocks["1.2|组织治理|20"]
    assert [t for _, t in section(b12, "优势：", "改进机会：")] == [
        "组织治理方面有系统的方法",
        "1.2 的做法已推广",
    ]
    assert [t for _, t in section(b12, "改进机会：", None)] == ["无"]


@needs_docx
def test_unit_without_consensus_still_shows_what_the_panel_wrote(tmp_path):
    std, record = builtin_standard("culture"), culture_record()
    blocks = unit_blocks(body(write(tmp_path, record, std)), std)
    b = blocks["2.1.2|体系建设|15"]  # pct None
    assert b[0][1].startswith("共识得分率：未评定")
    assert ("List Bullet", "体系建设方面有系统的方法") in b
    # 15 points at 15% is 2.25: shown exactly, not rounded to 2.2 or 2.3; whole points keep one decimal
    assert "得分：2.25 分" in blocks["2.2.2|过程优化|15"][0][1]
    assert "得分：7.0 分" in blocks["2.2.1|量化管理|20"][0][1]


@needs_docx
def test_key_themes_are_separate_paragraphs(tmp_path):
    std, record = builtin_standard("economic"), economic_record()
    paras = body(write(tmp_path, record, std))
    i = paras.index(("Heading 1", "关键主题"))
    assert [t for _, t in paras[i + 1 : i + 4]] == [
        "组织以质量文化为核心，领导作用突出。",
        "结果指标的对比数据不足。",
        "创新成果转化较快。",
    ]
    assert paras[i + 4][0].startswith("Heading")


@needs_docx
@pytest.mark.parametrize("award", ["economic", "culture"])
def test_no_examiner_name_or_id_anywhere_unless_asked(tmp_path, award):
    std, record = builtin_standard(award), CASES[award]()
    plain = write(tmp_path, record, std)
    text = all_text(plain)
    for eid, name in EXAMINERS:
        assert eid not in text and name not in text, (eid, name)
    assert LEADER not in text
    assert "坚持较高分" not in text  # the panel's internal reason is not the applicant's to read
    assert "评审组" not in "".join(t for s, t in body(plain) if s.startswith("Heading"))

    listed = write_feedback(record, std, tmp_path / "with.docx", with_examiners=True)
    paras = body(listed)
    assert ("Heading 1", "附录　评审组") in paras
    assert f"组长：{LEADER}" in [t for _, t in paras]
    rows = table_rows(listed, -1)
    assert rows[0] == ["序号", "评审员编号", "姓名"]
    assert [tuple(r[1:]) for r in rows[1:]] == list(record.examiners)


@needs_docx
def test_last_line_names_the_edition_and_sha_is_in_the_properties_only(tmp_path):
    std, record = builtin_standard("economic"), economic_record()
    path = write(tmp_path, record, std)
    last = body(path)[-1][1]
    assert std.edition in last and std.title in last and "共识记录" in last
    d = docx.Document(str(path))
    assert std.edition in d.sections[0].footer.paragraphs[0].text
    cp = d.core_properties
    assert "共识_经济类_EC-001.xlsx" in cp.comments and "ab12ab12ab12ab12" in cp.comments
    assert "/secretariat/" not in cp.comments  # the file's name, not where it lives
    assert cp.identifier == "sha256:" + "ab12" * 16
    assert "ab12ab12" not in "\n".join(t for _, t in body(path))


@needs_docx
def test_record_for_another_standard_is_refused():
    with pytest.raises(ValueError, match="culture"):
        feedback_document(economic_record(), builtin_standard("culture"))
    units = dict(economic_record().units, **{"9.9": UnitConsensus("9.9", 50)})
    with pytest.raises(ValueError, match="9.9"):
        feedback_document(economic_record(units=units), builtin_standard("economic"))


# -- hostile text ------------------------------------------------------------------------------------

HOSTILE = [
    '{ HYPERLINK "http://x.example/" }',
    '<w:fldSimple w:instr="PAGE"><w:r><w:t>1</w:t></w:r></w:fldSimple>',
    "=1+1",
    "MERGEFIELD 姓名 \\* MERGEFORMAT",
    '<w:hyperlink r:id="rId1"><w:r><w:t>点我</w:t></w:r></w:hyperlink>',
    "a & b < c > d \" e ' f ]]> <!-- x --> &amp; &#x41;",
    "<w:instrText> DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe </w:instrText>",
]
CONTROL = "控制\x00\x01\x08\x0b\x0c\x0e\x1f字符"
CONTROL_SHOWN = "控制字符"


@needs_docx
def test_hostile_text_is_literal_and_creates_no_field_hyperlink_or_markup(tmp_path):
    std = builtin_standard("economic")
    record = economic_record()
    units = dict(record.units)
    units["1.2"] = UnitConsensus("1.2", 50, strengths="\n".join([*HOSTILE, CONTROL]), ofi=HOSTILE[1])
    record = economic_record(
        units=units,
        applicant_name=HOSTILE[0] + CONTROL,
        stage=HOSTILE[5],
        key_themes="\n".join([*HOSTILE, CONTROL]),
        source_file="<evil>&.xlsx",
    )
    path = write_feedback(record, std, tmp_path / "hostile.docx")

    forbidden = {"fldSimple", "instrText", "fldChar", "hyperlink"}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if not name.endswith(".xml"):
                continue
            root = ElementTree.fromstring(z.read(name))  # a real parser: fails on anything malformed
            found = {el.tag.split("}")[-1] for el in root.iter()} & forbidden
            assert not found, f"{name}: {found}"
        rels = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".rels"))
        assert 'TargetMode="External"' not in rels
        doc_root = ElementTree.fromstring(z.read("word/document.xml"))
    texts = ["".join(t.text or "" for t in p.iter(f"{{{W_NS}}}t")) for p in doc_root.iter(f"{{{W_NS}}}p")]
    for s in HOSTILE:
        assert texts.count(s) >= 2, s  # as a key theme and as a strength, each its own paragraph
    assert texts.count(CONTROL_SHOWN) >= 2
    assert not any(re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", t) for t in texts)

    head = dict(table_rows(path, 0))
    assert head["申报组织"] == HOSTILE[0] + CONTROL_SHOWN
    assert head["评审阶段"] == HOSTILE[5]
    assert docx.Document(str(path)).core_properties.title.endswith(HOSTILE[0] + CONTROL_SHOWN)


@needs_docx
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=80), theme=st.text(max_size=80))
def test_any_text_makes_a_well_formed_report_and_a_safe_file_name(tmp_path, name, theme):
    std = builtin_standard("culture")
    record = culture_record(applicant_name=name, key_themes=theme, stage=theme)
    fn = feedback_filename(record, std)
    assert_safe_filename(fn)
    path = write_feedback(record, std, tmp_path / fn)
    assert path.parent == tmp_path and path.exists()
    with zipfile.ZipFile(path) as z:
        ElementTree.fromstring(z.read("word/document.xml"))


# -- file name ---------------------------------------------------------------------------------------


def assert_safe_filename(fn: str) -> None:
    assert fn.endswith(".docx") and fn.startswith("反馈报告_")
    assert not re.search(r'[/\\:*?"<>|\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]', fn), fn
    assert len(fn.encode("utf-8")) <= 255
    assert Path(fn).name == fn and ".." not in Path(fn).parts


def test_file_name_is_the_documented_pattern():
    std = builtin_standard("economic")
    fn = feedback_filename(economic_record(), std)
    assert fn == "反馈报告_2027_经济类_材料评审_EC-001_深圳市某某科技有限公司.docx"


@needs_docx
def test_file_name_is_safe_for_a_hostile_applicant(tmp_path):
    std = builtin_standard("economic")
    record = economic_record(applicant_name="../a/b:c*?<>|\x01名", applicant_id="..\\..\\x")
    fn = feedback_filename(record, std)
    assert_safe_filename(fn)
    assert fn.endswith("名.docx") and "abc" in fn
    written = write_feedback(record, std, tmp_path / fn)
    assert [p.name for p in tmp_path.iterdir()] == [fn] and written.parent == tmp_path

    long = feedback_filename(economic_record(applicant_name="很长的名字" * 100), std)
    assert_safe_filename(long)
    assert len(long.encode("utf-8")) <= 200 and "很长的名字" in long
    # a right-to-left override could disguise the extension: removed
    assert "\u202e" not in feedback_filename(economic_record(applicant_name="报告\u202excod.exe"), std)
    assert feedback_filename(economic_record(applicant_name=" ... "), std).endswith("_未命名.docx")


# -- atomic writing ----------------------------------------------------------------------------------


@needs_docx
def test_writing_replaces_an_existing_report(tmp_path):
    std = builtin_standard("economic")
    path = tmp_path / "report.docx"
    path.write_bytes(b"an older report")
    write_feedback(economic_record(), std, path)
    write_feedback(economic_record(applicant_name="深圳市新名称有限公司"), std, path)
    assert dict(table_rows(path, 0))["申报组织"] == "深圳市新名称有限公司"
    assert [p.name for p in tmp_path.iterdir()] == ["report.docx"]


@needs_docx
def test_a_failure_mid_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    std = builtin_standard("economic")
    path = write_feedback(economic_record(), std, tmp_path / "report.docx")
    before = path.read_bytes()

    def broken_save(self, target):
        Path(target).write_bytes(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(docx.document.Document, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_feedback(economic_record(applicant_name="另一家"), std, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["report.docx"]


# -- without python-docx -----------------------------------------------------------------------------


def test_package_imports_without_python_docx_and_says_what_is_missing():
    code = (
        "import sys; sys.modules['docx'] = None\n"
        "import szqa_xl, szqa_xl.consensus.feedback as f\n"
        "from szqa_xl.consensus.record import PanelRecord\n"
        "from szqa_xl.standards.load import builtin_standard\n"
        "std = builtin_standard('economic')\n"
        "r = PanelRecord('2027', 'economic', '材料评审', 'EC-1', '某公司', 'organisation', {})\n"
        "print(f.feedback_filename(r, std))\n"
        "try:\n"
        "    f.feedback_document(r, std)\n"
        "except RuntimeError as e:\n"
        "    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "反馈报告_2027_经济类_材料评审_EC-1_某公司.docx" in proc.stdout
    assert "python-docx is not installed" in proc.stdout


# -- LibreOffice -------------------------------------------------------------------------------------

WRITER_MISSING = (
    "LibreOffice Writer is not installed (soffice cannot load a .docx; Debian: libreoffice-writer-nogui)"
)


def _writer_missing(tmp_path: Path) -> bool:
    """True when soffice cannot load even a minimal python-docx document."""
    plain = docx.Document()
    plain.add_paragraph("probe")
    plain.save(str(tmp_path / "probe.docx"))
    try:
        feedback.libreoffice.to_pdf(tmp_path / "probe.docx", tmp_path / "probe")
    except RuntimeError:
        return True
    return False


@needs_docx
@pytest.mark.libreoffice
def test_pdf_shows_the_applicant_and_the_total(tmp_path, require_soffice):
    std, record = builtin_standard("culture"), culture_record()
    path = write(tmp_path, record, std)
    try:
        pdf = feedback_pdf(path, tmp_path / "pdf")
    except RuntimeError:
        if not _writer_missing(tmp_path):
            raise  # LibreOffice reads Word documents, just not this one
        if os.environ.get("SZQA_REQUIRE_LIBREOFFICE_WRITER") == "1":
            pytest.fail(f"{WRITER_MISSING} and SZQA_REQUIRE_LIBREOFFICE_WRITER=1", pytrace=False)
        pytest.skip(WRITER_MISSING)
    assert pdf is not None and pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler) not installed")
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, timeout=120)
    text = "".join(out.stdout.decode("utf-8").split())
    assert record.applicant_name in text
    want = sum(p for p in expected_points(std, record).values() if p is not None)
    m = re.search(r"共识总分：([\d.]+)分", text)
    assert m and float(m[1]) == pytest.approx(want, abs=1e-9)
    assert "1.1.1确定方向（30分）" in text and "3.3.2示范效应（40分）" in text


def test_pdf_is_none_without_soffice(tmp_path, monkeypatch):
    monkeypatch.setattr(feedback.libreoffice, "soffice", lambda: None)
    assert feedback_pdf(tmp_path / "x.docx", tmp_path) is None
