"""The written feedback report (反馈报告) an applicant receives after the consensus meeting.

One ``.docx`` per :class:`~szqa_xl.consensus.record.PanelRecord`, in Chinese, for the applicant's
management: the header (year, award category, stage, applicant), the total and the 类目 subtotals,
the key themes, then every scoring unit in the standard's order with its consensus 得分率, points,
band (label and descriptors from the standard's guide), strengths and OFIs.

What examiners wrote goes in as plain text runs only: never as a field, hyperlink or markup, and
with the control characters XML cannot hold removed.  No examiner name or id appears unless
``with_examiners=True`` asks for the 评审组 appendix.  The panel's internal notes (共识理由, the
examiners' own percentages, the median) are not shown.

Decisions:

* 类目 rows show points and 得分率 but no band: an economic 类目 mixes process (ADLI) and result
  (LeTCI) items, whose guides differ, so a band of the category's % would mean nothing.
* Points are shown exactly: one decimal, two where the value needs them (a unit's points are
  ``points × pct / 100`` with pct on the 5% grid, so always a multiple of 0.05).  Rounding 8.25 to
  8.2 or 8.3 would make the printed subtotals disagree with their own units.
* Fonts: python-docx has no public API for ``w:eastAsia``, so the styles get ``font.name``
  (宋体 for the text, 黑体 for headings) and the template's theme supplies the East Asian font
  (its minor/major East Asian fonts map Hans to 宋体).
* The source workbook's name and SHA-256 go in the document's core properties (comments,
  identifier), not in the visible text; the visible last line names the standard and its edition.
* No fields anywhere (not even page numbers), so the package holds no ``w:fldSimple`` or
  ``w:instrText`` at all.

python-docx is imported inside the functions: the package imports without it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from szqa_xl.consensus.record import PanelRecord
from szqa_xl.standards.models import APPLICANT_KIND_ZH, Standard
from szqa_xl.xlsx import libreoffice
from szqa_xl.xlsx.atomic import atomic_path

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument

__all__ = ["feedback_document", "feedback_filename", "feedback_pdf", "write_feedback"]

TITLE = "深圳市市长质量奖 反馈报告"
BODY_FONT = "宋体"
HEADING_FONT = "黑体"
NOT_RATED = "未评定"
GENERATOR = "szqa_xl"

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot hold: removed from every text before it reaches the document."""
_NEWLINES = re.compile("\r\n|[\r\n\u2028\u2029\x85]")
_MARKER = re.compile(
    r"^(?:"
    r"[·•●○◦▪▫■□◆◇►▶‣⁃・*\-–—]+"  # bullet characters and dashes
    r"|[（(]\s*\d{1,3}\s*[)）]"  # (1) （1）
    r"|\d{1,3}\s*(?:[.．](?!\d)|[、)）])"  # 1. 1、 1) — but not 1.5倍
    r"|[①-⑳]"
    r"|[一二三四五六七八九十]{1,3}\s*、"  # 一、
    r")\s*"
)
_UNSAFE_NAME = re.compile(r'[/\\:*?"<>|]')
NAME_MAX = 60  # characters of the applicant's name in a file name
PART_MAX = 30  # characters of any other part
FILENAME_MAX_BYTES = 200  # UTF-8 bytes of the whole file name (most file systems allow 255)


# -- text ---------------------------------------------------------------------------------------


def _clean(text: object) -> str:
    """Text as it may stand in the document: a str without the characters XML cannot hold."""
    return _XML_BAD.sub("", "" if text is None else str(text))


def _lines(text: object) -> list[str]:
    """The non-blank lines of a text, cleaned and stripped."""
    return [s for s in (line.strip() for line in _NEWLINES.split(_clean(text))) if s]


def _bullets(text: object) -> list[str]:
    """One entry per line, without the bullet or number the writer typed (the style adds its own)."""
    out = []
    for line in _lines(text):
        item = _MARKER.sub("", line, count=1).strip()
        if item:
            out.append(item)
    return out


def _points(x: float) -> str:
    """Points exactly: 11.0, 8.25 (values are multiples of 0.05)."""
    s = f"{x:.2f}"
    return s[:-1] if s.endswith("0") else s


def _pct(p: float) -> str:
    return f"{int(p)}%" if float(p).is_integer() else f"{p:g}%"


def _rate(got: float, of: int) -> str:
    return f"{got / of * 100:.1f}%" if of else "—"


# -- python-docx ---------------------------------------------------------------------------------


def _docx() -> Any:
    try:
        import docx
    except ImportError as e:  # pragma: no cover - exercised only where python-docx is absent
        raise RuntimeError(
            "python-docx is not installed: feedback reports need it (pip install python-docx; it needs lxml)"
        ) from e
    return docx


def _setup(doc: Any) -> None:
    """A4 page, Chinese fonts on the built-in styles, a quiet header and footer."""
    from docx.shared import Mm, Pt, RGBColor

    for section in doc.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.left_margin = section.right_margin = Mm(25)
        section.top_margin = section.bottom_margin = Mm(25)
    normal = doc.styles["Normal"]
    normal.font.name = BODY_FONT
    normal.font.size = Pt(10.5)  # 五号
    normal.paragraph_format.space_after = Pt(4)
    for name, size in (
        ("Title", 22),
        ("Heading 1", 15),
        ("Heading 2", 13),
        ("Heading 3", 12),
        ("Heading 4", 11),
    ):
        style = doc.styles[name]
        style.font.name = HEADING_FONT
        style.font.size = Pt(size)
        style.font.italic = False
        style.font.color.rgb = RGBColor(0x1F, 0x2D, 0x4D)
    for name in ("List Bullet", "Table Grid"):
        doc.styles[name].font.name = BODY_FONT


def _run(paragraph: Any, text: str, *, bold: bool = False) -> Any:
    run = paragraph.add_run(_clean(text))  # a plain w:t: python-docx escapes <>&", makes no field
    if bold:
        run.bold = True
    return run


def _para(doc: Any, text: str = "", *, style: str | None = None, label: str = "", keep: bool = False) -> Any:
    """A paragraph of plain runs: a bold ``label`` then ``text``; ``keep`` keeps it on the next one's page."""
    p = doc.add_paragraph(style=style)
    if keep:
        p.paragraph_format.keep_with_next = True
    if label:
        _run(p, label, bold=True)
    if text:
        _run(p, text)
    return p


def _table(
    doc: Any, rows: list[list[str]], widths_mm: list[float], *, header: bool, numeric: set[int]
) -> Any:
    """A Table Grid table of plain texts; the first row bold when ``header``; ``numeric`` columns centred."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm

    table = doc.add_table(rows=len(rows), cols=len(widths_mm))
    table.style = doc.styles["Table Grid"]
    table.autofit = False
    for c, width in enumerate(widths_mm):
        table.columns[c].width = Mm(width)  # the grid LibreOffice and WPS lay out by
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            cell = table.cell(r, c)
            cell.width = Mm(widths_mm[c])
            p = cell.paragraphs[0]
            _run(p, value, bold=(header and r == 0) or (not header and c == 0))
            if c in numeric or (header and r == 0):
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    return table


# -- the report ------------------------------------------------------------------------------------


def _check(record: PanelRecord, std: Standard) -> None:
    if record.award_category != std.id:
        raise ValueError(f"the record is for {record.award_category!r}, the standard is {std.id!r}")
    codes = {u.code for u in std.units()}
    unknown = sorted(set(record.units) - codes)
    if unknown:
        raise ValueError(f"the record has units the {std.id} standard does not: {', '.join(unknown)}")


def _applicant_label(record: PanelRecord) -> str:
    return "申报项目" if record.applicant_kind == "project" else "申报组织"


def feedback_document(record: PanelRecord, std: Standard, *, with_examiners: bool = False) -> DocxDocument:
    """The feedback report of one applicant as a python-docx Document (not yet saved)."""
    _check(record, std)
    docx = _docx()
    from docx.shared import Pt

    doc = docx.Document()
    _setup(doc)
    name = _clean(record.applicant_name).strip()

    # 1. title and header table
    doc.add_paragraph(TITLE, style="Title")
    rows = [
        ["评审年度", _clean(record.year)],
        ["奖项类别", f"{std.name_zh}（依据《{std.title}》）"],
        ["评审阶段", _clean(record.stage)],
        ["申报编号", _clean(record.applicant_id)],
        [_applicant_label(record), name],
    ]
    if std.id != "economic":
        rows.append(["申报类型", APPLICANT_KIND_ZH.get(record.applicant_kind, _clean(record.applicant_kind))])
    if record.signed_on:
        rows.append(["共识日期", _clean(record.signed_on)])
    _table(doc, rows, [35, 125], header=False, numeric=set())

    # 2. total and 类目 subtotals
    unit_pts = record.unit_points(std)
    cat_pts = record.category_points(std)
    missing = [u for u in std.units() if unit_pts[u.code] is None]
    total = record.total(std)
    doc.add_heading("总体得分", level=1)
    p = _para(doc, label="共识总分：")
    _run(p, f"{_points(total)} 分", bold=True)
    _run(p, f"（满分 {std.total_points} 分，得分率 {_rate(total, std.total_points)}）")
    if missing:
        _para(
            doc,
            f"{len(missing)} 个评分项{NOT_RATED}（{'、'.join(u.code for u in missing)}），"
            "其分值未计入上述总分，总分不完整。",
        )
    head = ["类目", "名称", "分值", "共识得分", "得分率"]
    widths = [15.0, 60.0, 25.0, 30.0, 30.0]
    if missing:
        head.append("备注")
        widths = [14.0, 46.0, 20.0, 25.0, 25.0, 30.0]
    rows = [head]
    for cat in std.categories:
        row = [
            cat.code,
            cat.name,
            str(cat.points),
            _points(cat_pts.get(cat.code, 0.0)),
            _rate(cat_pts.get(cat.code, 0.0), cat.points),
        ]
        if missing:
            n = sum(1 for u in missing if u.category_code == cat.code)
            row.append(f"{n} 项{NOT_RATED}" if n else "")
        rows.append(row)
    last = ["合计", "", str(std.total_points), _points(total), _rate(total, std.total_points)]
    if missing:
        last.append(f"{len(missing)} 项{NOT_RATED}")
    rows.append(last)
    _table(doc, rows, widths, header=True, numeric={0, 2, 3, 4})
    note = _para(doc, "注：得分 = 分值 × 共识得分率；类目得分为其各评分项得分之和。")
    note.paragraph_format.space_before = Pt(4)

    # 3. key themes
    doc.add_heading("关键主题", level=1)
    themes = _lines(record.key_themes)
    for line in themes or ["无"]:
        _para(doc, line)

    # 4. every unit, in the standard's order
    doc.add_heading("各评分项评审意见", level=1)
    sub_items = std.scoring_unit == "sub_item"
    for cat in std.categories:
        doc.add_heading(f"{cat.code} {cat.name}（{cat.points}分）", level=2)
        got = cat_pts.get(cat.code, 0.0)
        _para(
            doc,
            f"{_points(got)} 分（满分 {cat.points} 分，得分率 {_rate(got, cat.points)}）",
            label="类目得分：",
        )
        for item in cat.items:
            if sub_items:
                doc.add_heading(f"{item.code} {item.name}（{item.points}分）", level=3)
            for u in std.units():
                if u.item_code == item.code:
                    _unit(doc, record, std, u.code, level=4 if sub_items else 3)

    # 5. the panel, only when asked
    if with_examiners:
        doc.add_heading("附录　评审组", level=1)
        if record.leader:
            _para(doc, _clean(record.leader), label="组长：")
        rows = [["序号", "评审员编号", "姓名"]]
        rows += [[str(i), _clean(eid), _clean(ename)] for i, (eid, ename) in enumerate(record.examiners, 1)]
        _table(doc, rows, [20, 50, 90], header=True, numeric={0})

    # 6. where it came from
    closing = f"本报告依据评审组共识记录生成。评定标准：《{std.title}》（{std.edition}）。"
    _para(doc, "")
    _para(doc, closing)
    _header_footer(doc, name, f"《{std.title}》（{std.edition}）· 依据评审组共识记录生成")
    _properties(doc, record, std, name)
    return doc


def _unit(doc: Any, record: PanelRecord, std: Standard, code: str, *, level: int) -> None:
    from docx.shared import Mm, Pt, RGBColor

    unit = std.unit(code)
    uc = record.units.get(code)
    doc.add_heading(f"{unit.code} {unit.name}（{unit.points}分）", level=level)
    if uc is None or uc.pct is None:
        p = _para(doc, NOT_RATED, label="共识得分率：", keep=True)
        _run(p, "　　")
        _run(p, "得分：", bold=True)
        _run(p, f"—（满分 {unit.points} 分）")
    else:
        p = _para(doc, _pct(uc.pct), label="共识得分率：", keep=True)
        _run(p, "　　")
        _run(p, "得分：", bold=True)
        _run(p, f"{_points(record.unit_points(std)[code] or 0.0)} 分（满分 {unit.points} 分）")
        band = record.band_of(std, code)
        if band is not None:
            _para(doc, f"{band.label}（{std.guide(unit.kind).title}）", label="评分区间：", keep=True)
            for i, text in enumerate(band.descriptors):
                d = _para(doc, text, keep=i < len(band.descriptors) - 1)
                d.paragraph_format.left_indent = Mm(7)
                d.paragraph_format.space_after = Pt(1)
                for run in d.runs:
                    run.font.size = Pt(9.5)
                    run.font.color.rgb = RGBColor(0x55, 0x55, 0x55)
    for label, text in (("优势", uc.strengths if uc else ""), ("改进机会", uc.ofi if uc else "")):
        _para(doc, label=f"{label}：", keep=True)
        items = _bullets(text)
        for item in items:
            _para(doc, item, style="List Bullet")
        if not items:
            _para(doc, "无")


def _header_footer(doc: Any, name: str, footer: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    for section in doc.sections:
        for part, text in ((section.header, f"{TITLE}　{name}"), (section.footer, footer)):
            p = part.paragraphs[0]
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = _run(p, text)
            run.font.size = Pt(9)
            run.font.color.rgb = RGBColor(0x70, 0x70, 0x70)


def _properties(doc: Any, record: PanelRecord, std: Standard, name: str) -> None:
    """Core properties: what the report is and the consensus record it came from (name, SHA-256)."""
    cp = doc.core_properties
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    cp.title = f"{TITLE} — {name}"[:255]
    cp.subject = std.title
    cp.category = std.name_zh
    cp.keywords = "反馈报告"
    cp.author = GENERATOR
    cp.last_modified_by = GENERATOR
    cp.language = "zh-CN"
    cp.created = cp.modified = now
    cp.revision = 1
    source = Path(_clean(record.source_file)).name if record.source_file else ""
    sha = _clean(record.source_sha256)
    if source or sha:
        cp.comments = f"依据共识记录生成：{source or '（未记录文件名）'}" + (
            f"，SHA-256 {sha[:16]}" if sha else ""
        )
    else:
        cp.comments = "依据评审组共识记录生成"
    cp.identifier = f"sha256:{sha}" if sha else ""


# -- files -----------------------------------------------------------------------------------------


def write_feedback(record: PanelRecord, std: Standard, path: Path, *, with_examiners: bool = False) -> Path:
    """Write the report to ``path`` (.docx) atomically: the old file stays until the new one is complete."""
    path = Path(path)
    doc = feedback_document(record, std, with_examiners=with_examiners)
    with atomic_path(path) as tmp:
        doc.save(str(tmp))
    return path


def feedback_pdf(docx_path: Path, out_dir: Path) -> Path | None:
    """The report converted to PDF by LibreOffice headless (``out_dir/<stem>.pdf``); None without soffice."""
    if libreoffice.soffice() is None:
        return None
    try:
        return libreoffice.to_pdf(Path(docx_path), Path(out_dir))
    except RuntimeError as e:
        if "could not be loaded" in str(e):
            raise RuntimeError(
                f"{e}\nLibreOffice could not open the .docx: its Writer component may be missing "
                "(Debian/Ubuntu: apt-get install libreoffice-writer-nogui)"
            ) from e
        raise


def _safe_part(text: object, limit: int) -> str:
    """One part of a file name: no path separators, reserved or invisible characters, no edge dots."""
    s = _UNSAFE_NAME.sub("", _clean(text))
    s = "".join(c for c in s if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    s = re.sub(r"\s+", " ", s).strip(" .")
    return s[:limit].strip(" .")


def feedback_filename(record: PanelRecord, std: Standard) -> str:
    """``反馈报告_<year>_<类别>_<stage>_<id>_<name>.docx``, safe on Windows, macOS and Linux.

    The stage is part of the name so the reports of two stages of one applicant do not overwrite
    each other.
    """
    parts = [
        _safe_part(record.year, PART_MAX),
        _safe_part(std.name_zh, PART_MAX),
        _safe_part(record.stage, PART_MAX),
        _safe_part(record.applicant_id, PART_MAX),
    ]
    name = _safe_part(record.applicant_name, NAME_MAX) or "未命名"
    stem_parts = ["反馈报告", *(p for p in parts if p)]
    while True:
        stem = "_".join([*stem_parts, name])
        if len((stem + ".docx").encode("utf-8")) <= FILENAME_MAX_BYTES or len(name) <= 1:
            return stem + ".docx"
        name = name[:-1].rstrip(" .") or name[:1]
