"""Hostile and broken returned scoresheets: the catalogue of the design's quality.md, one test each.

The contract (quality.md, "Hostile and broken input"): the bad file is named (and the
sheet!cell where there is one) with a reason a secretariat clerk understands; a rejected
file contributes nothing; every other file is still processed; no input file is modified;
outputs are written atomically; nothing is silently coerced or truncated.

Every case builds its bad file at test time from a good, generated and filled scoresheet
(tests/hostile_files.py), drops it into a returns folder beside two clean returns and
consolidates the folder in worker processes.  ``hf.check_batch`` checks the batch half of
the contract (nothing raises, no input changes by a byte, every file has a status and a
reason, the clean returns' numbers equal a clean batch's); ``hf.problem`` checks the named
file / sheet / cell / reason of the bad one.  docs/hostile-input.md lists the cases.
"""

from __future__ import annotations

import csv
import hashlib
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time
from pathlib import Path

import hostile_files as hf
import openpyxl
import openpyxl.xml
import pandas as pd
import pytest
import xlsxwriter
from openpyxl import load_workbook

import szqa_xl.returns.isolation
from szqa_xl.consolidation.batch import consolidate_dir, scores_csv, write_outputs
from szqa_xl.demo import band_for
from szqa_xl.returns import package, reader, xmlparts
from szqa_xl.scoresheet.layout import SHEET_COVER, SHEET_META, SHEET_SCORES
from szqa_xl.standards.load import builtin_standard
from szqa_xl.xlsx.textsafe import cell_text

U = hf.first_unit()  # "1.1": the unit whose cells the cases damage
U2 = builtin_standard(hf.AWARD).units()[1].code
STD = builtin_standard(hf.AWARD)
UNIT = STD.units()[0]


def ref(field: str, code: str = U) -> str:
    return hf.cell_of(code, field)


def addr(field: str, code: str = U) -> str:
    return f"{SHEET_SCORES}!{ref(field, code)}"


def run_case(kit: hf.Kit, tmp_path: Path, build, name: str | None = None, **kw):
    """Clean returns + one bad file made by ``build(dst)``; consolidate; return (outcome, bad record)."""
    folder = kit.batch(tmp_path / "returns")
    name = name or kit.victim.name
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    made = work / name
    build(made)
    made.rename(folder / name)
    out = hf.check_batch(kit, folder, **kw)
    return out, out.record(name)


def not_crash(rec) -> None:
    """The reason is the file's, not the tool's: no internal error or worker crash."""
    assert not [p for p in rec.problems if p.code == "reader-crash"], [str(p) for p in rec.problems]


# -- 0-byte, truncated, not an xlsx ------------------------------------------------------------------


def test_zero_byte_file(hostile_kit, tmp_path):
    _, rec = run_case(hostile_kit, tmp_path, lambda dst: dst.write_bytes(b""))
    hf.problem(rec, "empty-file", words=["0 字节"])


@pytest.mark.parametrize("keep", [0.02, 0.5, 0.98, -1], ids=["2pct", "half", "98pct", "last-byte-cut"])
def test_truncated_file(hostile_kit, tmp_path, keep):
    data = hostile_kit.victim.read_bytes()
    n = len(data) - 1 if keep == -1 else int(len(data) * keep)
    _, rec = run_case(hostile_kit, tmp_path, lambda dst: dst.write_bytes(data[:n]))
    hf.problem(rec, "corrupt-zip", words=["不完整"])


RENAMED = {
    "csv": (b"applicant_id,unit,pct\nEC-001,1.1,80\nEC-001,1.2,60\n", ["CSV"]),
    "csv-utf8-bom-chinese": ("\ufeff编号,评分项目,得分率\n1.1,领导,80\n".encode(), ["CSV"]),
    "html": (b"<html><body><table><tr><td>1.1</td><td>80</td></tr></table></body></html>", ["HTML"]),
    "html-doctype": (b"<!DOCTYPE html>\n<html><head><meta charset='utf-8'></head></html>", ["HTML"]),
    "excel-2003-xml": (
        b'<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
        b'<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>',
        ["XML"],
    ),
}


@pytest.mark.parametrize("kind", RENAMED)
def test_csv_or_html_renamed_xlsx(hostile_kit, tmp_path, kind):
    data, words = RENAMED[kind]
    _, rec = run_case(hostile_kit, tmp_path, lambda dst: dst.write_bytes(data))
    hf.problem(rec, "not-xlsx", words=[*words, ".xlsx"])


OLE_FILES = {
    # an encrypted .xlsx is an OLE container whose directory names the EncryptedPackage stream
    "encrypted-xlsx": (".xlsx", "EncryptedPackage".encode("utf-16-le"), "encrypted", ["密码", ".xlsx"]),
    "legacy-xls": (".xls", "Workbook".encode("utf-16-le"), "legacy-xls", [".xls", ".xlsx", "另存为"]),
}


@pytest.mark.parametrize("case", OLE_FILES)
def test_encrypted_or_legacy_xls(hostile_kit, tmp_path, case):
    suffix, payload, code, words = OLE_FILES[case]
    name = hostile_kit.victim.with_suffix(suffix).name
    _, rec = run_case(hostile_kit, tmp_path, lambda dst: dst.write_bytes(hf.cfb_file(payload)), name=name)
    hf.problem(rec, code, words=words)


def test_zip_with_encrypted_entries(hostile_kit, tmp_path):
    """A zip whose parts carry the traditional-encryption flag (a password-protected zip)."""

    def build(dst):
        data = bytearray(hostile_kit.victim.read_bytes())
        pos = 0
        while (pos := data.find(b"PK\x01\x02", pos)) != -1:
            data[pos + 8] |= 0x1
            pos += 4
        dst.write_bytes(bytes(data))

    _, rec = run_case(hostile_kit, tmp_path, build)
    hf.problem(rec, "encrypted", words=["加密"])


@pytest.mark.parametrize("content", ["office-owner-file", "wps-copy"])
def test_lock_files_skipped(hostile_kit, tmp_path, content):
    """``~$`` files are Excel/WPS lock files: listed as skipped, never read or merged."""
    owner = b"\x06Li Ming" + b" " * 47 + b"\x06\x00L\x00i\x00 \x00M\x00i\x00n\x00g\x00" + bytes(90)
    data = owner if content == "office-owner-file" else hostile_kit.victim.read_bytes()
    name = "~$" + hostile_kit.victim.name
    _, rec = run_case(hostile_kit, tmp_path, lambda dst: dst.write_bytes(data), name=name)
    hf.problem(rec, "lock-file", status="skipped", words=["跳过"])
    assert rec.issue_id == "" and rec.sha256 == ""  # never opened


# -- format variants and XML attacks ---------------------------------------------------------------


def test_strict_ooxml(hostile_kit, tmp_path):
    def build(dst):
        hf.rewrite_zip(
            hostile_kit.victim,
            dst,
            {"xl/workbook.xml": lambda x: x.replace(hf.MAIN_NS.encode(), hf.STRICT_NS.encode())},
        )

    _, rec = run_case(hostile_kit, tmp_path, build)
    hf.problem(rec, "strict-ooxml", words=["Strict", "另存为"])


LAUGHS = (
    b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]>"
)
XXE = b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
PLAIN_DTD = b'<!DOCTYPE x [<!ENTITY e "text">]>'
ATTACKS = {"billion-laughs": (LAUGHS, b"&lol9;"), "xxe": (XXE, b"&xxe;"), "dtd": (PLAIN_DTD, b"&e;")}


def _use_entity(entity: bytes, text: str):
    """Replace an examiner's text with a reference to the entity, so a parser would expand it."""

    def edit(xml: bytes) -> bytes:
        # openpyxl writes non-ASCII text as UTF-8, or as character references when lxml is installed
        refs = "".join(c if ord(c) < 128 else f"&#{ord(c)};" for c in text).encode()
        needle = next((n for n in (text.encode(), refs) if n in xml), None)
        assert needle is not None, "the examiner's text is not in the part"
        return xml.replace(needle, entity, 1)

    return edit


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("where", ["workbook.xml", "sheet", "sharedStrings", "meta-sheet", "styles"])
def test_dtd_billion_laughs_xxe(hostile_kit, tmp_path, attack, where):
    dtd, entity = ATTACKS[attack]
    victim_text = hf.examiner_scores(hf.AWARD, hf.VICTIM)[U].strengths

    def build(dst):
        src = hostile_kit.victim
        if where == "sharedStrings":
            src = hf.to_shared_strings(src, dst.with_name("shared.xlsx"))
        part = {
            "workbook.xml": "xl/workbook.xml",
            "sheet": hf.scores_part(src),
            "sharedStrings": "xl/sharedStrings.xml",
            "meta-sheet": hf.sheet_part(src, SHEET_META),
            "styles": "xl/styles.xml",
        }[where]
        prolog = hf.with_prolog(dtd)
        if where in ("sheet", "sharedStrings"):
            use = _use_entity(entity, victim_text)
            hf.rewrite_zip(src, dst, {part: lambda x: prolog(use(x))})
        else:
            hf.rewrite_zip(src, dst, {part: prolog})

    _, rec = run_case(hostile_kit, tmp_path, build)
    sheet = {"sheet": SHEET_SCORES, "meta-sheet": SHEET_META}.get(where)
    hf.problem(rec, "dtd", sheet=sheet, words=["DTD"])


@pytest.mark.parametrize("where", ["sheet", "sharedStrings"])
def test_dtd_hidden_after_long_comment(hostile_kit, tmp_path, where):
    """A DTD may follow any amount of comment or whitespace: looking at the first few KB is not enough."""
    victim_text = hf.examiner_scores(hf.AWARD, hf.VICTIM)[U].strengths

    def build(dst):
        src = hostile_kit.victim
        if where == "sharedStrings":
            src = hf.to_shared_strings(src, dst.with_name("shared.xlsx"))
        part = hf.scores_part(src) if where == "sheet" else "xl/sharedStrings.xml"
        prolog = hf.with_prolog(b"<!--" + b" padding " * 2000 + b"-->\n" + XXE)
        use = _use_entity(b"&xxe;", victim_text)
        hf.rewrite_zip(src, dst, {part: lambda x: prolog(use(x))})

    _, rec = run_case(hostile_kit, tmp_path, build)
    hf.problem(rec, "dtd", words=["DTD"])


def test_dtd_in_utf16_sheet(hostile_kit, tmp_path):
    """The same sheet XML encoded as UTF-16 (legal XML) carrying a DTD."""

    def build(dst):
        def utf16(xml: bytes) -> bytes:
            body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
            text = '<?xml version="1.0" encoding="UTF-16"?>' + PLAIN_DTD.decode() + body.decode("utf-8")
            return text.encode("utf-16")

        hf.rewrite_zip(hostile_kit.victim, dst, {hf.scores_part(hostile_kit.victim): utf16})

    _, rec = run_case(hostile_kit, tmp_path, build)
    not_crash(rec)
    hf.problem(rec, sheet=SHEET_SCORES)


# -- zip bombs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0xFFFFFF00, reader.MAX_UNCOMPRESSED + 1], ids=["4GB", "limit+1"])
def test_zip_bomb_declared_size(hostile_kit, tmp_path, size):
    def build(dst):
        data = hostile_kit.victim.read_bytes()
        dst.write_bytes(hf.patch_declared_size(data, hf.sheet_part(hostile_kit.victim, "评分指南"), size))

    _, rec = run_case(hostile_kit, tmp_path, build)
    hf.problem(rec, "zip-bomb", words=["压缩炸弹"])


def test_zip_bomb_declared_smaller_than_content(hostile_kit, tmp_path):
    """The directory understates a part's size: the inflated data must not be trusted either."""

    def build(dst):
        part = hf.scores_part(hostile_kit.victim)
        padded = hf.insert_into(hf.main_name("worksheet"), b"<!--" + b" " * 3_000_000 + b"-->")
        tmp = dst.with_name("padded.xlsx")
        hf.rewrite_zip(hostile_kit.victim, tmp, {part: padded})
        dst.write_bytes(hf.patch_declared_size(tmp.read_bytes(), part, 90_000))

    _, rec = run_case(hostile_kit, tmp_path, build)
    not_crash(rec)
    hf.problem(rec, ("zip-bomb", "corrupt-zip"), words=["压"])


@pytest.mark.parametrize("where", ["extra-part", "sheet-part"])
def test_zip_bomb_inflate_ratio(hostile_kit, tmp_path, where):
    """A part over 1 MB that inflates more than 100:1 (Apache POI's rule)."""

    def build(dst):
        if where == "extra-part":
            hf.rewrite_zip(hostile_kit.victim, dst, add=[("xl/media/image1.bin", bytes(3_000_000))])
        else:
            pad = hf.insert_into(hf.main_name("worksheet"), b"<!--" + b" " * 3_000_000 + b"-->")
            hf.rewrite_zip(hostile_kit.victim, dst, {hf.scores_part(hostile_kit.victim): pad})

    _, rec = run_case(hostile_kit, tmp_path, build)
    hf.problem(rec, "zip-bomb", words=["压缩比", "压缩炸弹"])


# -- cells far outside the template (calamine aborts the process on these) ----------------------------


def far_cell(ref_: str):
    """The cell added at the end of its row (a new last row when the row does not exist yet)."""
    row = re.fullmatch(r"[A-Z]+(\d+)", ref_).group(1)
    cell = f'<c r="{ref_}" t="inlineStr"><is><t>x</t></is></c>'.encode()

    def edit(xml: bytes) -> bytes:
        els = hf.elements(xml)
        existing = hf.find(els, hf.main_name("row"), r=row)
        if existing:
            (r,) = existing
            return hf.splice(xml, [hf.respelt(xml, r, xml[r.tag_end : r.content_end] + cell)])
        return hf.insert_into(hf.main_name("sheetData"), f'<row r="{row}">'.encode() + cell + b"</row>")(xml)

    return edit


@pytest.mark.parametrize("cell", ["XFD1048576", "A1048576", "XFD5"])
def test_cell_at_sheet_corner(hostile_kit, tmp_path, cell):
    """workers>=1: even if the file reached calamine and aborted its process, the batch goes on."""

    def build(dst):
        hf.rewrite_zip(hostile_kit.victim, dst, {hf.scores_part(hostile_kit.victim): far_cell(cell)})

    _, rec = run_case(hostile_kit, tmp_path, build, workers=2)
    not_crash(rec)
    hf.problem(rec, "used-range", sheet=SHEET_SCORES, words=["使用区域"])


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_worker_killed_while_reading_is_contained(hostile_kit, tmp_path, monkeypatch, workers):
    """The safety net behind the reader: a read that kills its process (here the victim's read ends
    the worker with SIGKILL, as an out-of-memory kill would) rejects that file and the batch goes on,
    whatever the number of workers (0 reads in one isolated worker too)."""
    if multiprocessing.get_start_method() != "fork":
        pytest.skip("needs fork so that worker processes inherit the monkeypatched reader")
    real = szqa_xl.returns.isolation.read_return

    def dies_on_victim(path, *args, **kw):
        if Path(path).name == hostile_kit.victim.name:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(path, *args, **kw)

    monkeypatch.setattr(szqa_xl.returns.isolation, "read_return", dies_on_victim)
    _, rec = run_case(
        hostile_kit, tmp_path, lambda dst: shutil.copy(hostile_kit.victim, dst), workers=workers
    )
    hf.problem(rec, "reader-crash", words=["崩溃"])


def test_dimension_claims_whole_sheet(hostile_kit, tmp_path):
    def build(dst):
        def dim(xml):
            d = hf.the(hf.elements(xml), hf.main_name("dimension"))
            assert d.attrs["ref"] != "A1:XFD1048576"
            return hf.splice(xml, [hf.respelt(xml, d, values={"ref": "A1:XFD1048576"})])

        hf.rewrite_zip(hostile_kit.victim, dst, {hf.scores_part(hostile_kit.victim): dim})

    _, rec = run_case(hostile_kit, tmp_path, build, workers=2)
    not_crash(rec)
    hf.problem(rec, "used-range", sheet=SHEET_SCORES)


# -- giant text ---------------------------------------------------------------------------------------


GIANT = ("评审意见" * 3 + "The method is systematic. ") * 1100
GIANT = GIANT[:39_996] + "【结束】"


def test_giant_string_cell_not_cut(hostile_kit, tmp_path):
    """40,000 characters in 优势: kept whole in scores.csv, split over continuation rows in the workbook."""
    assert len(GIANT) == 40_000 and GIANT.endswith("【结束】")

    def build(dst):
        hf.set_text(hostile_kit.victim, dst, addr("strengths"), GIANT)

    out, rec = run_case(hostile_kit, tmp_path, build)
    assert rec.status == "accepted", [str(p) for p in rec.problems]
    tidy = out.cons.tidy
    row = tidy[(tidy["examiner_id"] == hf.VICTIM) & (tidy["unit"] == U)]
    assert row["strengths"].iloc[0] == GIANT

    paths = write_outputs(out.cons, tmp_path / "out")
    with paths["csv"].open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["examiner_id"] == hf.VICTIM and r["unit"] == U]
    assert [r["strengths"] for r in rows] == [GIANT]

    wb = load_workbook(paths["workbook"])
    pieces = []
    for ws in wb.worksheets:  # the comment table: 编号, 评审员, 优势 … side by side, wherever it starts
        heads = [c.column for c in ws[4] if c.value == "优势"] if ws.max_row >= 4 else []
        for col in heads:
            for r in ws.iter_rows(min_row=5, min_col=col - 2, max_col=col):
                a, b = r[0].value, r[1].value
                if a in (U, f"{U}（续）") and isinstance(b, str) and b.startswith(hf.VICTIM):
                    pieces.append(r[2].value or "")
    assert all(len(p) <= 32_767 for p in pieces)
    assert len(pieces) >= 2, "the text needs continuation rows"
    assert "".join(pieces) == GIANT


# -- zip structure ------------------------------------------------------------------------------------


CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"


def _ct_edit(case: str):
    """An edit of [Content_Types].xml that breaks what OPC requires of it, found by parsing the part."""

    def edit(xml: bytes) -> bytes:
        els = hf.elements(xml)
        sheet = hf.the(els, CT + "Override", PartName="/" + SCORES_PART)
        xml_default = hf.the(els, CT + "Default", Extension="xml")
        if case == "override-without-part-name":  # the fuzz run's find: one letter into "PartName"
            return hf.splice(
                xml,
                [(sheet.start, sheet.tag_end, hf.start_tag(xml, sheet, renames={"PartName": "PartNrame"}))],
            )
        if case == "override-without-content-type":
            return hf.splice(xml, [hf.respelt(xml, sheet, values={"ContentType": None})])
        if case == "default-without-extension":
            return hf.splice(xml, [hf.respelt(xml, xml_default, values={"Extension": None})])
        if case == "unknown-element":
            return hf.insert_into("Types", b'<Overide PartName="/xl/x.xml" ContentType="text/plain"/>')(xml)
        if case == "override-twice":  # the same part, its name in other letters' case
            twin = xml[sheet.start : sheet.end].replace(SCORES_PART.encode(), SCORES_PART.upper().encode())
            return hf.insert_into("Types", twin)(xml)
        raise AssertionError(case)

    return edit


SCORES_PART = "xl/worksheets/sheet2.xml"


@pytest.mark.parametrize(
    "case",
    [
        "override-without-part-name",
        "override-without-content-type",
        "default-without-extension",
        "unknown-element",
        "override-twice",
    ],
)
def test_broken_content_types_part_is_refused(hostile_kit, tmp_path, case):
    """The package's index must be what OPC says it is: a spreadsheet finds every part's type there,
    so a file whose index is broken is rejected by name, never merged from its relationships alone."""
    assert hf.scores_part(hostile_kit.victim) == SCORES_PART

    def build(dst):
        hf.rewrite_zip(hostile_kit.victim, dst, {"[Content_Types].xml": _ct_edit(case)})

    out, rec = run_case(hostile_kit, tmp_path, build)
    not_crash(rec)
    assert rec.status == "rejected"
    assert [(p.code, p.message.split(" ")[0]) for p in rec.problems][:1] == [
        ("bad-xml", "[Content_Types].xml")
    ]


WORKSHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
WORKBOOK_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CHARTSHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.chartsheet+xml"
DOCUMENT_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
THEME_CT = "application/vnd.openxmlformats-officedocument.theme+xml"


def _retype(part: str, content_type: str | None):
    """[Content_Types].xml with ``part``'s Override giving ``content_type`` (None: the Override removed,
    so the part falls back to the Default for its extension, ``application/xml``)."""

    def edit(xml: bytes) -> bytes:
        el = hf.the(hf.elements(xml), CT + "Override", PartName="/" + part)
        if content_type is None:
            return hf.splice(xml, [(el.start, el.end, b"")])
        return hf.splice(xml, [hf.respelt(xml, el, values={"ContentType": content_type})])

    return edit


@pytest.mark.parametrize(
    "part, content_type, sheet",
    [
        pytest.param(SCORES_PART, "application/xml", SHEET_SCORES, id="sheet-typed-as-xml"),
        pytest.param(SCORES_PART, None, SHEET_SCORES, id="sheet-override-removed"),
        pytest.param(SCORES_PART, CHARTSHEET_CT, SHEET_SCORES, id="sheet-typed-as-chartsheet"),
        pytest.param("xl/worksheets/sheet6.xml", "text/plain", SHEET_META, id="meta-typed-as-text"),
        pytest.param("xl/workbook.xml", DOCUMENT_CT, "", id="workbook-typed-as-word-document"),
        pytest.param("xl/styles.xml", THEME_CT, "", id="styles-typed-as-theme"),
    ],
)
def test_part_with_the_wrong_content_type_is_refused(hostile_kit, tmp_path, part, content_type, sheet):
    """Excel opens each part by the type the package's index gives it, so a return whose scoring sheet,
    metadata sheet, workbook or styles are typed as something else (an edit, or a broken writer) cannot
    be opened there as the examiner saw it: it is rejected naming the part, never merged."""
    assert hf.sheet_part(hostile_kit.victim, SHEET_META) == "xl/worksheets/sheet6.xml"

    def build(dst):
        hf.rewrite_zip(hostile_kit.victim, dst, {"[Content_Types].xml": _retype(part, content_type)})

    _, rec = run_case(hostile_kit, tmp_path, build)
    not_crash(rec)
    p = hf.problem(rec, "content-type", words=[part, "Excel 无法打开"])
    assert p.sheet == sheet
    assert rec.problems[0] is p  # the reason, not one of many


def test_content_types_matched_as_opc_compares_them(hostile_kit, tmp_path):
    """Part names and media types are compared case-insensitively (OPC; RFC 2045): an index that spells
    them in other letters' case, with a parameter on a type, is the same index, and the file is merged."""

    def edit(xml: bytes) -> bytes:
        els = hf.elements(xml)
        sheet = hf.the(els, CT + "Override", PartName="/" + SCORES_PART)
        book = hf.the(els, CT + "Override", PartName="/xl/workbook.xml")
        return hf.splice(
            xml,
            [
                hf.respelt(
                    xml,
                    sheet,
                    values={"PartName": "/" + SCORES_PART.upper(), "ContentType": WORKSHEET_CT.upper()},
                ),
                hf.respelt(
                    xml,
                    book,
                    values={"ContentType": WORKBOOK_CT.replace("sheet.main", "Sheet.Main") + "; v=1"},
                ),
            ],
        )

    def build(dst):
        hf.rewrite_zip(hostile_kit.victim, dst, {"[Content_Types].xml": edit})

    out, rec = run_case(hostile_kit, tmp_path, build)
    assert rec.status in hf.MERGED, [str(p) for p in rec.problems]
    assert not [p for p in rec.problems if p.code == "content-type"]


XLSM_CT = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
XLTX_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml"


@pytest.mark.parametrize(
    "suffix, content_type, what",
    [
        pytest.param(".xlsx", XLSM_CT, "启用宏的工作簿（.xlsm）", id="xlsm-renamed-xlsx"),
        pytest.param(".xlsm", WORKBOOK_CT, "普通工作簿（.xlsx）", id="xlsx-renamed-xlsm"),
        pytest.param(".xlsx", XLTX_CT, "模板（.xltx）", id="template-renamed-xlsx"),
        pytest.param(".XLSX", WORKBOOK_CT, None, id="upper-case-extension-matches"),
        pytest.param(".xlsm", XLSM_CT.upper(), None, id="xlsm-type-in-other-case-matches"),
    ],
)
def test_extension_must_name_the_kind_of_workbook(hostile_kit, tmp_path, suffix, content_type, what):
    """Excel opens a package only under the extension of its kind (an .xlsm renamed .xlsx: "the file
    format or file extension is not valid"), so such a return is refused, saying what it really is;
    a matching kind, in whatever letters' case, is merged."""

    def build(dst):
        hf.rewrite_zip(
            hostile_kit.victim, dst, {"[Content_Types].xml": _retype("xl/workbook.xml", content_type)}
        )

    name = hostile_kit.victim.stem + suffix
    _, rec = run_case(hostile_kit, tmp_path, build, name=name)
    not_crash(rec)
    if what is None:
        assert rec.status in hf.MERGED, [str(p) for p in rec.problems]
        return
    p = hf.problem(rec, "extension-mismatch", words=[f"文件扩展名为 {suffix}", what, "Excel 拒绝打开"])
    assert rec.problems[0] is p


@pytest.mark.parametrize("which", ["scores-sheet", "content-types"])
def test_duplicate_zip_entries(hostile_kit, tmp_path, which):
    def build(dst):
        parts = hf.zip_parts(hostile_kit.victim)
        name = hf.scores_part(hostile_kit.victim) if which == "scores-sheet" else "[Content_Types].xml"
        data = dict(parts)[name]
        # the second copy of 评分表 says 100 for the unit: which one a reader takes is arbitrary
        twin = data
        if which == "scores-sheet":
            els = hf.elements(data)
            (c,) = hf.find(els, hf.main_name("c"), r=ref("pct"))
            (v,) = hf.find(hf.children(els, c), hf.main_name("v"))
            twin = hf.splice(data, [hf.respelt(data, v, b"100")])
            assert twin != data
        hf.write_zip(dst, [*parts, (name, twin)])

    _, rec = run_case(hostile_kit, tmp_path, build)
    hf.problem(rec, "duplicate-parts", words=["重复"])


@pytest.mark.parametrize("sheet", [SHEET_SCORES, SHEET_META])
def test_damaged_compressed_data(hostile_kit, tmp_path, sheet):
    """Bytes damaged inside a part's compressed data (a bad download or disk): zlib refuses it."""

    def build(dst):
        part = hf.sheet_part(hostile_kit.victim, sheet)
        dst.write_bytes(hf.damage_deflate(hostile_kit.victim.read_bytes(), part))

    _, rec = run_case(hostile_kit, tmp_path, build)
    not_crash(rec)
    p = hf.problem(rec, ("corrupt-zip", "unreadable"))
    assert "损坏" in p.message or "无法解压" in p.message, p.message


@pytest.mark.parametrize(
    "sheet",
    [SHEET_SCORES, SHEET_META, SHEET_COVER, "xl/workbook.xml"],
    ids=["scores", "meta", "cover", "workbook"],
)
def test_missing_sheet_part(hostile_kit, tmp_path, sheet):
    def build(dst):
        part = sheet if sheet.endswith(".xml") else hf.sheet_part(hostile_kit.victim, sheet)
        hf.rewrite_zip(hostile_kit.victim, dst, drop=[part])

    _, rec = run_case(hostile_kit, tmp_path, build)
    not_crash(rec)
    if sheet.endswith(".xml"):
        hf.problem(rec, "missing-part", words=["workbook.xml"])
    else:
        hf.problem(rec, ("missing-part", "missing-sheet"), sheet=sheet, words=["缺"])


# -- the metadata sheet ---------------------------------------------------------------------------


def test_metadata_sheet_missing(hostile_kit, tmp_path):
    def build(dst):
        hf.edit_workbook(hostile_kit.victim, dst, lambda wb: wb.remove(wb[SHEET_META]))

    _, rec = run_case(hostile_kit, tmp_path, build)
    hf.problem(rec, "missing-sheet", sheet=SHEET_META, words=["缺少工作表"])


def test_scores_sheet_renamed(hostile_kit, tmp_path):
    def build(dst):
        def rename(wb):
            wb[SHEET_SCORES].title = "Sheet1"

        hf.edit_workbook(hostile_kit.victim, dst, rename)

    _, rec = run_case(hostile_kit, tmp_path, build)
    hf.problem(rec, "missing-sheet", sheet=SHEET_SCORES, words=["改名"])


META_EDITS = {
    # case: (edit(src, dst), expected codes, words)
    "input-address": (
        lambda s, d: hf.replace_meta_address(s, d, addr("pct"), addr("pct", U2)),
        ("bad-meta",),
        ["地址"],
    ),
    "cover-address": (
        lambda s, d: hf.set_meta(s, d, "cover.declaration", f"{SHEET_COVER}!C30"),
        ("bad-meta",),
        ["地址"],
    ),
    "award-category-unknown": (
        lambda s, d: hf.set_meta(s, d, "award_category", "xyz"),
        ("bad-meta",),
        ["奖项类别"],
    ),
    "award-category-other": (
        lambda s, d: hf.set_meta(s, d, "award_category", "culture"),
        ("bad-meta", "edition"),
        [],
    ),
    "fingerprint": (lambda s, d: hf.set_meta(s, d, "fingerprint", "0" * 64), ("edition",), ["标准版本"]),
    "layout-version": (lambda s, d: hf.set_meta(s, d, "layout_version", "99"), ("layout-version",), ["版式"]),
}


@pytest.mark.parametrize("case", META_EDITS)
def test_metadata_sheet_edited(hostile_kit, tmp_path, case):
    edit, codes, words = META_EDITS[case]
    _, rec = run_case(hostile_kit, tmp_path, lambda dst: edit(hostile_kit.victim, dst))
    hf.problem(rec, codes, sheet=SHEET_META, words=words)


# -- the wrong file -------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_manifest", [False, True], ids=["no-manifest", "manifest"])
def test_wrong_award_year(hostile_kit, tmp_path, with_manifest):
    """A genuine scoresheet issued for 2026 returned into the 2027 consolidation."""

    def build(dst):
        hostile_kit.issued_for(hf.AWARD, hf.YEAR - 1, hf.VICTIM, "1" * 32, dst)

    _, rec = run_case(hostile_kit, tmp_path, build, manifest=with_manifest)
    hf.problem(rec, "wrong-year", words=[str(hf.YEAR - 1), str(hf.YEAR)])
    if with_manifest:
        hf.problem(rec, "unknown-issue", words=["发放清单"])


def test_wrong_edition(hostile_kit, tmp_path):
    """Generated from another edition of the standard: edition text and fingerprint differ."""

    def build(dst):
        tmp = dst.with_name("edition.xlsx")
        hf.set_meta(hostile_kit.victim, tmp, "edition", "2019版")
        hf.set_meta(tmp, dst, "fingerprint", "f" * 64)

    _, rec = run_case(hostile_kit, tmp_path, build)
    hf.problem(rec, "edition", sheet=SHEET_META, words=["标准版本", STD.edition])


def test_wrong_award_category_against_manifest(hostile_kit, tmp_path):
    """A genuine 文化类 scoresheet carrying the issue id that the manifest gave an 经济类 one."""

    def build(dst):
        hostile_kit.issued_for("culture", hf.YEAR, hf.VICTIM, hostile_kit.issue_ids[hf.VICTIM], dst)

    _, rec = run_case(hostile_kit, tmp_path, build, manifest=True)
    hf.problem(rec, "manifest-mismatch", words=["award_category", "发放清单"])


@pytest.mark.parametrize("key,value", [("examiner_id", "E04"), ("applicant_id", "EC-009"), ("year", "2026")])
def test_another_examiners_file_against_manifest(hostile_kit, tmp_path, key, value):
    """The metadata names another examiner / applicant / year than the manifest recorded for the issue id."""
    _, rec = run_case(
        hostile_kit, tmp_path, lambda dst: hf.set_meta(hostile_kit.victim, dst, key, value), manifest=True
    )
    hf.problem(rec, "manifest-mismatch", words=[key, value, "发放清单"])


def test_file_not_in_manifest(hostile_kit, tmp_path):
    """A well-formed scoresheet from some other issuing run: its issue id is not in the manifest."""

    def build(dst):
        hostile_kit.issued_for(hf.AWARD, hf.YEAR, hf.VICTIM, "2" * 32, dst)

    _, rec = run_case(hostile_kit, tmp_path, build, manifest=True)
    hf.problem(rec, "unknown-issue", words=["发放清单"])


# -- locked cells, rows, columns ------------------------------------------------------------------------


LOCKED = {
    "code": "9.9",
    "name": "改过的项目名称",
    "points": 30,
    "points-as-text": str(UNIT.points),
    "requirement": "改过的基本要求",
    "guidance": "改过的要点指引",
}


@pytest.mark.parametrize("case", LOCKED)
def test_locked_cell_changed(hostile_kit, tmp_path, case):
    field = case.split("-")[0]
    value = LOCKED[case]
    dtype = "s" if isinstance(value, str) else None
    _, rec = run_case(
        hostile_kit, tmp_path, lambda dst: hf.set_cells(hostile_kit.victim, dst, {addr(field): value}, dtype)
    )
    hf.problem(rec, "locked-changed", sheet=SHEET_SCORES, cell=ref(field), words=["锁定单元格"])


def _row(field: str = "pct", code: str = U) -> int:
    return reader.split_ref(ref(field, code))[0]


ROW_EDITS = {
    "row-inserted": (lambda ws: ws.insert_rows(_row() + 1), f"A{_row() + 1}"),
    "row-deleted": (lambda ws: ws.delete_rows(_row()), f"A{_row()}"),
    "rows-sorted": (lambda ws: hf.swap_rows(ws, _row(), _row(code=U2)), f"A{_row()}"),
    "column-inserted": (lambda ws: ws.insert_cols(2), None),
}


@pytest.mark.parametrize("case", ROW_EDITS)
def test_rows_inserted_deleted_or_sorted(hostile_kit, tmp_path, case):
    edit, cell = ROW_EDITS[case]

    def build(dst):
        hf.edit_workbook(hostile_kit.victim, dst, lambda wb: edit(wb[SHEET_SCORES]))

    _, rec = run_case(hostile_kit, tmp_path, build)
    hf.problem(rec, "locked-changed", sheet=SHEET_SCORES, cell=cell, words=["锁定单元格"])


# -- values in the input cells --------------------------------------------------------------------------

BAND_55 = band_for(STD, UNIT.kind, 55)

PASTED = {
    # case: ({field: value}, code, bad field, words)
    "pct-62": ({"pct": 62}, "off-grid", "pct", ["62", str(STD.grid_step)]),
    "pct-0.8": ({"pct": 0.8}, "off-grid", "pct", ["小数"]),
    "pct-80.4-shown-as-80": ({"pct": 80.4}, "off-grid", "pct", ["80.4"]),
    "pct-105": ({"pct": 105}, "off-grid", "pct", ["105"]),
    "pct-minus-5": ({"pct": -5}, "off-grid", "pct", ["-5"]),
    "pct-1e308": ({"pct": 1e308}, "off-grid", "pct", []),
    "band-not-in-list": ({"band": "优秀"}, "bad-band", "band", ["优秀", "下拉"]),
    "pct-outside-band": ({"band": BAND_55, "pct": 80}, "out-of-band", "pct", ["80", BAND_55]),
}


@pytest.mark.parametrize("case", PASTED)
def test_pasted_value_off_grid_or_outside_band(hostile_kit, tmp_path, case):
    values, code, field, words = PASTED[case]
    cells = {addr(k): v for k, v in values.items()}
    _, rec = run_case(hostile_kit, tmp_path, lambda dst: hf.set_cells(hostile_kit.victim, dst, cells))
    hf.problem(rec, code, sheet=SHEET_SCORES, cell=ref(field), words=[U, *words])


NOT_NUMBERS = {
    "80%": "80%",
    "fullwidth-0.8": "０.８",
    "80-space": "80 ",
    "80-as-text": "80",
    "datetime": datetime(2027, 5, 20, 9, 30),
    "date": date(2027, 5, 20),
    "time": time(12, 0),
    "true": True,
    "false": False,
}


@pytest.mark.parametrize("case", NOT_NUMBERS)
def test_number_as_text_date_or_boolean(hostile_kit, tmp_path, case):
    value = NOT_NUMBERS[case]
    dtype = "s" if isinstance(value, str) else None
    _, rec = run_case(
        hostile_kit, tmp_path, lambda dst: hf.set_cells(hostile_kit.victim, dst, {addr("pct"): value}, dtype)
    )
    p = hf.problem(rec, "pct-not-number", sheet=SHEET_SCORES, cell=ref("pct"), words=[U, "不是数字"])
    assert not re.search(r"datetime|<class|\bdate\(|\btime\(", p.message), f"Python repr in {p.message!r}"
    if isinstance(value, (date, time)):
        assert "日期" in p.message or "时间" in p.message, p.message


def _cached_formula(cell_ref: str, formula: str, cached: str):
    """Excel's way of saving a formula: <f> with the last calculated value in <v>."""

    def edit(xml: bytes) -> bytes:
        (c,) = hf.find(hf.elements(xml), hf.main_name("c"), r=cell_ref)
        f, v = hf.prefixed(c.qname, "f"), hf.prefixed(c.qname, "v")
        content = f"<{f}>{formula}</{f}><{v}>{cached}</{v}>".encode()
        return hf.splice(xml, [hf.respelt(xml, c, content, {"t": None})])

    return edit


FORMULAS = {
    "pct-no-cached-value": ("pct", "=40+40"),
    "strengths-no-cached-value": ("strengths", "=A1&B1"),
    "band-no-cached-value": ("band", f'="{BAND_55}"'),
    "pct-cached-value": ("pct", None),
}


@pytest.mark.parametrize("case", FORMULAS)
def test_formula_in_input_cell(hostile_kit, tmp_path, case):
    field, formula = FORMULAS[case]

    def build(dst):
        if formula is None:
            part = hf.scores_part(hostile_kit.victim)
            hf.rewrite_zip(hostile_kit.victim, dst, {part: _cached_formula(ref(field), "40+40", "80")})
        else:
            hf.set_cells(hostile_kit.victim, dst, {addr(field): formula})

    _, rec = run_case(hostile_kit, tmp_path, build)
    hf.problem(rec, "formula-input", sheet=SHEET_SCORES, cell=ref(field), words=["公式"])


ERRORS = {
    "pct-#REF!": ("pct", "#REF!"),
    "pct-#N/A": ("pct", "#N/A"),
    "pct-#DIV/0!": ("pct", "#DIV/0!"),
    "band-#N/A": ("band", "#N/A"),
    "strengths-#VALUE!": ("strengths", "#VALUE!"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_error_value_in_input_cell(hostile_kit, tmp_path, case):
    """An error cell is not a blank: silently reading it as 'not scored yet' is a coercion."""
    field, error = ERRORS[case]
    _, rec = run_case(
        hostile_kit, tmp_path, lambda dst: hf.set_cells(hostile_kit.victim, dst, {addr(field): error}, "e")
    )
    hf.problem(rec, sheet=SHEET_SCORES, cell=ref(field), words=[error])


MERGES = {
    "band+pct": (ref("band"), ref("pct")),
    "strengths..evidence": (ref("strengths"), ref("evidence")),
    "pct-down-two-units": (ref("pct"), ref("pct", U2)),
}


@pytest.mark.parametrize("case", MERGES)
def test_merged_input_cells(hostile_kit, tmp_path, case):
    first, last = MERGES[case]

    def build(dst):
        hf.edit_workbook(hostile_kit.victim, dst, lambda wb: wb[SHEET_SCORES].merge_cells(f"{first}:{last}"))

    _, rec = run_case(hostile_kit, tmp_path, build)
    (r1, c1), (r2, c2) = reader.split_ref(first), reader.split_ref(last)
    inside = {
        f"{openpyxl.utils.get_column_letter(c)}{r}" for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)
    }
    hf.problem(rec, "merged-input", sheet=SHEET_SCORES, cell=inside, words=["合并"])


# -- examiners' text that looks like a formula or carries control characters -------------------------


INJECTIONS = {
    "equals": "=1+1",
    "hyperlink": '=HYPERLINK("http://example.com/x","点击查看")',
    "dde": "=cmd|' /C calc'!A0",
    "plus": "+86 755 8888 0000",
    "minus": "-3 分：缺少数据",
    "at": "@SUM(A1:A9)",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
    "cr-inside": "甲\r=2+2",
    "control-x01": "\x01控制字符",
    "error-text": "#N/A",
}


@pytest.mark.parametrize("case", INJECTIONS)
def test_comment_like_formula_or_control_chars_kept_as_text(hostile_kit, tmp_path, case):
    """KEPT: accepted; text (never a formula) in consolidated.xlsx; neutralised with ' in scores.csv."""
    text = INJECTIONS[case]

    def build(dst):
        hf.set_text(hostile_kit.victim, dst, addr("strengths"), text)

    out, rec = run_case(hostile_kit, tmp_path, build)
    assert rec.status == "accepted", [str(p) for p in rec.problems]
    tidy = out.cons.tidy
    got = tidy[(tidy["examiner_id"] == hf.VICTIM) & (tidy["unit"] == U)]["strengths"].iloc[0]
    assert got == text

    paths = write_outputs(out.cons, tmp_path / "out")
    wrong = []  # collect both halves so one failure does not hide the other
    with paths["csv"].open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    header = table[0]
    if {len(r) for r in table} != {len(header)}:
        wrong.append(
            f"scores.csv: a record is broken across lines ({sorted({len(r) for r in table})} fields)"
        )
    rows = [dict(zip(header, r, strict=False)) for r in table[1:]]
    mine = [r for r in rows if r.get("examiner_id") == hf.VICTIM and r.get("unit") == U]
    leads = ("=", "+", "-", "@", "\t", "\r")
    want = "'" + text if text.startswith(leads) else text
    if len(mine) != 1 or mine[0]["strengths"] not in (want, cell_text(want)):
        wrong.append(f"scores.csv: {[r['strengths'] for r in mine]!r} is not {want!r}")
    bare = [c for r in table for c in r if c.startswith(leads)]
    if bare:
        wrong.append(f"scores.csv: cell(s) a spreadsheet would run as a formula: {bare!r}")

    wb = load_workbook(paths["workbook"])
    cells = [c for ws in wb.worksheets for r in ws.iter_rows() for c in r]
    shown = [c for c in cells if isinstance(c.value, str) and c.value in (text, cell_text(text))]
    if not shown:
        near = [c.value for c in cells if isinstance(c.value, str) and text.strip()[-3:] in c.value][:3]
        wrong.append(f"consolidated.xlsx: {text!r} not shown as written (found {near!r})")
    if [c for c in shown if c.data_type != "s"]:
        wrong.append(f"consolidated.xlsx: not text: {[(c.coordinate, c.data_type) for c in shown]}")
    core = text.strip("\t\r=")
    if [c for c in cells if c.data_type in ("f", "e") and core and core in str(c.value)]:
        wrong.append("consolidated.xlsx: the text became a formula or an error value")
    assert not wrong, wrong


# -- duplicates -----------------------------------------------------------------------------------------


def test_same_issue_id_twice(hostile_kit, tmp_path):
    """A second copy of a good return (same issue id): listed as duplicate, merged once."""
    src = hostile_kit.filled[hf.GOOD[0]]
    name = "zz_副本_" + src.name
    out, rec = run_case(hostile_kit, tmp_path, lambda dst: dst.write_bytes(src.read_bytes()), name=name)
    hf.problem(rec, "duplicate", status="duplicate", words=["重复", src.name])


def test_same_issue_id_twice_different_scores(hostile_kit, tmp_path):
    """Two differing returns of one issue: the second is not merged over the first."""
    folder = hostile_kit.batch(tmp_path / "returns")
    victim = hostile_kit.victim
    (folder / victim.name).write_bytes(victim.read_bytes())
    second = folder / ("zz_" + victim.name)
    hf.set_cells(
        victim, tmp_path / "second.xlsx", {addr("pct"): 100, addr("band"): band_for(STD, UNIT.kind, 100)}
    )
    second.write_bytes((tmp_path / "second.xlsx").read_bytes())
    out = hf.check_batch(hostile_kit, folder)
    assert out.record(victim.name).status == "accepted"
    hf.problem(out.record(second.name), "duplicate", status="duplicate", words=["重复", victim.name])
    tidy = out.cons.tidy
    pct = tidy[(tidy["examiner_id"] == hf.VICTIM) & (tidy["unit"] == U)]["pct"].tolist()
    assert pct == [hf.examiner_scores(hf.AWARD, hf.VICTIM)[U].pct]


# -- other spreadsheet programs, macros -----------------------------------------------------------------


def _victim_alone(kit: hf.Kit, tmp_path: Path):
    folder = tmp_path / "alone"
    folder.mkdir()
    (folder / kit.victim.name).write_bytes(kit.victim.read_bytes())
    cons = consolidate_dir(folder, workers=0)
    return hf.tidy_of(cons.tidy, [kit.victim.name]).drop(columns=["file"])


@pytest.mark.libreoffice
def test_resaved_by_libreoffice_accepted(hostile_kit, tmp_path, require_soffice):
    from szqa_xl.xlsx.libreoffice import recalculate

    def build(dst):
        made = recalculate(hostile_kit.victim, tmp_path / "lo")
        dst.write_bytes(made.read_bytes())

    out, rec = run_case(hostile_kit, tmp_path, build)
    assert rec.status == "accepted", [str(p) for p in rec.problems]
    got = hf.tidy_of(out.cons.tidy, [hostile_kit.victim.name]).drop(columns=["file"])
    pd.testing.assert_frame_equal(got, _victim_alone(hostile_kit, tmp_path))


def test_excel_style_shared_strings_accepted(hostile_kit, tmp_path):
    """Excel and WPS save text as shared strings (openpyxl's inline strings are the exception)."""
    out, rec = run_case(hostile_kit, tmp_path, lambda dst: hf.to_shared_strings(hostile_kit.victim, dst))
    assert rec.status == "accepted", [str(p) for p in rec.problems]
    got = hf.tidy_of(out.cons.tidy, [hostile_kit.victim.name]).drop(columns=["file"])
    pd.testing.assert_frame_equal(got, _victim_alone(hostile_kit, tmp_path))


def test_xlsm_with_macros_values_read(hostile_kit, tmp_path):
    """A macro-enabled copy: values read, the VBA part never opened or run."""
    sentinel = tmp_path / "macro-ran.txt"
    vba = hf.cfb_file(
        f'Attribute VB_Name = "Module1"\nSub Auto_Open()\nOpen "{sentinel}" For Output As #1\n'.encode()
    )
    ct_default = b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
    rel = (
        b'<Relationship Id="rIdVBA" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject"'
        b' Target="vbaProject.bin"/>'
    )

    def content_types(xml: bytes) -> bytes:
        wb = hf.the(hf.elements(xml), "Override", PartName="/xl/workbook.xml")
        assert (
            wb.attrs["ContentType"]
            == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
        )
        xml = hf.splice(
            xml,
            [
                hf.respelt(
                    xml, wb, values={"ContentType": "application/vnd.ms-excel.sheet.macroEnabled.main+xml"}
                )
            ],
        )
        return hf.insert_into("Types", ct_default)(xml)

    def build(dst):
        hf.rewrite_zip(
            hostile_kit.victim,
            dst,
            {
                "[Content_Types].xml": content_types,
                "xl/_rels/workbook.xml.rels": hf.insert_into("Relationships", rel),
            },
            add=[("xl/vbaProject.bin", vba)],
        )

    name = hostile_kit.victim.with_suffix(".xlsm").name
    out, rec = run_case(hostile_kit, tmp_path, build, name=name)
    assert rec.status == "accepted", [str(p) for p in rec.problems]
    got = hf.tidy_of(out.cons.tidy, [name]).drop(columns=["file"])
    pd.testing.assert_frame_equal(got, _victim_alone(hostile_kit, tmp_path))
    assert not sentinel.exists()


# -- preflight limits (reader.MAX_*) ----------------------------------------------------------------------


def _col_letter(n: int) -> str:
    return openpyxl.utils.get_column_letter(n)


def _extra_parts(n: int) -> list[tuple[str, bytes]]:
    return [(f"customXml/item{i}.xml", b"<x/>") for i in range(n)]


def _read(path: Path):
    rf = reader.read_return(path)
    return rf, [p.code for p in rf.problems]


def test_limit_max_file_bytes(hostile_kit, monkeypatch):
    size = hostile_kit.victim.stat().st_size
    monkeypatch.setattr(package, "MAX_FILE_BYTES", size)
    rf, _ = _read(hostile_kit.victim)
    assert rf.status == "accepted"
    monkeypatch.setattr(package, "MAX_FILE_BYTES", size - 1)
    rf, codes = _read(hostile_kit.victim)
    assert rf.status == "rejected" and codes == ["too-large"]
    assert "MB" in rf.problems[0].message and rf.problems[0].file == hostile_kit.victim.name


def test_limit_max_entries(hostile_kit, tmp_path):
    """Real files: exactly MAX_ENTRIES parts is accepted, one more is refused."""
    n = len(hf.zip_parts(hostile_kit.victim))
    at = hf.rewrite_zip(hostile_kit.victim, tmp_path / "at.xlsx", add=_extra_parts(reader.MAX_ENTRIES - n))
    over = hf.rewrite_zip(
        hostile_kit.victim, tmp_path / "over.xlsx", add=_extra_parts(reader.MAX_ENTRIES - n + 1)
    )
    assert _read(at)[0].status == "accepted"
    rf, codes = _read(over)
    assert rf.status == "rejected" and codes == ["too-many-parts"]
    assert str(reader.MAX_ENTRIES) in rf.problems[0].message


def test_limit_max_uncompressed(hostile_kit, monkeypatch):
    with zipfile.ZipFile(hostile_kit.victim) as zf:
        total = sum(i.file_size for i in zf.infolist())
    monkeypatch.setattr(package, "MAX_UNCOMPRESSED", total)
    assert _read(hostile_kit.victim)[0].status == "accepted"
    monkeypatch.setattr(package, "MAX_UNCOMPRESSED", total - 1)
    rf, codes = _read(hostile_kit.victim)
    assert rf.status == "rejected" and codes == ["zip-bomb"]
    assert "压缩炸弹" in rf.problems[0].message


def test_limit_max_ratio(hostile_kit, tmp_path, monkeypatch):
    """A 1.5 MB part of mixed data: refused when its ratio is just over MAX_RATIO, kept just under."""
    rng = random.Random(7)
    blob = b"".join(rng.randbytes(64) + bytes(4000) for _ in range(400))
    path = hf.rewrite_zip(hostile_kit.victim, tmp_path / "ratio.xlsx", add=[("xl/media/image1.bin", blob)])
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/media/image1.bin")
    ratio = info.file_size / info.compress_size
    assert info.file_size > reader.RATIO_MIN_SIZE and ratio % 1
    monkeypatch.setattr(package, "MAX_RATIO", int(ratio) + 1)
    assert _read(path)[0].status == "accepted"
    monkeypatch.setattr(package, "MAX_RATIO", int(ratio))
    rf, codes = _read(path)
    assert rf.status == "rejected" and codes == ["zip-bomb"]
    assert "xl/media/image1.bin" in rf.problems[0].message


def test_limit_ratio_min_size(hostile_kit, tmp_path):
    """Highly compressible parts up to RATIO_MIN_SIZE are legitimate; one byte more is checked."""
    at = hf.rewrite_zip(
        hostile_kit.victim, tmp_path / "at.xlsx", add=[("xl/media/a.bin", bytes(reader.RATIO_MIN_SIZE))]
    )
    over = hf.rewrite_zip(
        hostile_kit.victim, tmp_path / "over.xlsx", add=[("xl/media/a.bin", bytes(reader.RATIO_MIN_SIZE + 1))]
    )
    assert _read(at)[0].status == "accepted"
    assert _read(over)[1] == ["zip-bomb"]


# The sheets that are read cell by cell (评分表, 封面, _meta) are held to the used-range limit; the
# guide and glossary sheets are never opened by a reader (reader.INPUT_SHEETS), so they are not.
# A stray cell in the hidden _meta sheet is tampering in itself, so there only "over" is checked.
LIMIT_SHEETS = [SHEET_SCORES, SHEET_COVER, SHEET_META]


def _limit_case(kit: hf.Kit, tmp_path: Path, sheet: str, at_ref: str, over_ref: str) -> None:
    part = hf.sheet_part(kit.victim, sheet)
    over = hf.rewrite_zip(kit.victim, tmp_path / "over.xlsx", {part: far_cell(over_ref)})
    rf, codes = _read(over)
    assert rf.status == "rejected" and codes == ["used-range"], codes
    assert rf.problems[0].sheet == sheet and "使用区域" in rf.problems[0].message
    if sheet != SHEET_META:
        at = hf.rewrite_zip(kit.victim, tmp_path / "at.xlsx", {part: far_cell(at_ref)})
        rf, codes = _read(at)
        assert rf.status == "accepted", codes


@pytest.mark.parametrize("sheet", LIMIT_SHEETS)
def test_limit_max_rows(hostile_kit, tmp_path, sheet):
    _limit_case(hostile_kit, tmp_path, sheet, f"Z{reader.MAX_ROWS}", f"Z{reader.MAX_ROWS + 1}")


@pytest.mark.parametrize("sheet", LIMIT_SHEETS)
def test_limit_max_cols(hostile_kit, tmp_path, sheet):
    at, over = _col_letter(reader.MAX_COLS), _col_letter(reader.MAX_COLS + 1)
    _limit_case(hostile_kit, tmp_path, sheet, f"{at}900", f"{over}900")


# -- defusedxml -----------------------------------------------------------------------------------------


def test_openpyxl_uses_defusedxml():
    assert openpyxl.xml.DEFUSEDXML is True


def test_check_environment_refuses_without_defusedxml(monkeypatch):
    from szqa_xl.safety import check_environment

    check_environment()
    monkeypatch.setattr(openpyxl.xml, "DEFUSEDXML", False)
    with pytest.raises(RuntimeError, match="defusedxml"):
        check_environment()


def test_openpyxl_reads_no_workbook_without_defusedxml(tmp_path, monkeypatch):
    """Where openpyxl reads a workbook (the archive, the demo) it refuses to without defusedxml; the
    CLI says so and exits 3.  The returns' reader does not use openpyxl and is not stopped."""
    from typer.testing import CliRunner

    from szqa_xl.cli import app
    from szqa_xl.demo import run_demo
    from szqa_xl.stages import archive

    monkeypatch.setattr(openpyxl.xml, "DEFUSEDXML", False)
    book = tmp_path / "consolidated.xlsx"
    book.write_bytes(b"PK")  # never opened: the check comes first
    with pytest.raises(RuntimeError, match="defusedxml"):
        archive._read_returns_sheet(book, "consolidated.xlsx")
    with pytest.raises(RuntimeError, match="defusedxml"):
        run_demo(tmp_path / "demo")
    assert not (tmp_path / "demo").exists()
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo2")])
    assert result.exit_code == 3 and "defusedxml" in result.output
    assert not (tmp_path / "demo2").exists()


def test_consolidating_needs_no_openpyxl(hostile_kit):
    """``szqa consolidate`` and the reader never import openpyxl (its import is a tenth of a second
    of every run and of every reader process, and it does not read returns), not even to read the
    date an examiner signed on."""
    code = (
        "import sys\n"
        "from szqa_xl.cli import app\n"
        "import szqa_xl.consolidation.batch, szqa_xl.consensus.build\n"
        "from szqa_xl.returns.reader import read_return\n"
        f"rf = read_return({str(hostile_kit.victim)!r})\n"
        "print(rf.status, repr(rf.cover.get('date')))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'openpyxl'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    status, modules = proc.stdout.strip().splitlines()
    assert status.startswith("accepted datetime.datetime(")
    assert modules == "[]"


# -- idempotence and safety of outputs --------------------------------------------------------------------


@pytest.fixture
def mixed_returns(hostile_kit, tmp_path) -> Path:
    """Clean returns, the victim's, and a few bad ones: a realistic folder."""
    folder = hostile_kit.batch(tmp_path / "returns", [*hf.GOOD, hf.VICTIM])
    (folder / "empty.xlsx").write_bytes(b"")
    hf.set_cells(hostile_kit.victim, folder / "off_grid.xlsx", {addr("pct"): 62})
    hf.set_text(hostile_kit.filled["E04"], folder / "inject.xlsx", addr("strengths"), "=1+1")
    return folder


def test_scores_csv_byte_identical_across_runs(mixed_returns, tmp_path):
    a = write_outputs(consolidate_dir(mixed_returns, year=hf.YEAR, workers=2), tmp_path / "a")
    b = write_outputs(consolidate_dir(mixed_returns, year=hf.YEAR, workers=0), tmp_path / "b")
    assert a["csv"].read_bytes() == b["csv"].read_bytes()
    assert scores_csv(consolidate_dir(mixed_returns, year=hf.YEAR, workers=0).tidy) == scores_csv(
        consolidate_dir(mixed_returns, year=hf.YEAR, workers=1).tidy
    )


def _fail_save_midway(exc: BaseException):
    """XlsxWriter's close (where the package is assembled) leaves half a file, then fails."""

    def close(self):
        Path(self.filename).write_bytes(b"PK\x03\x04 half a workbook")
        raise exc

    return close


@pytest.mark.parametrize("how", ["save-oserror", "save-interrupt", "render-raises", "csv-write-fails"])
def test_interrupted_run_leaves_no_partial_output(mixed_returns, tmp_path, monkeypatch, how):
    cons = consolidate_dir(mixed_returns, year=hf.YEAR, workers=0)
    out = tmp_path / "out"
    expected: type[BaseException] = OSError
    if how == "save-oserror":
        monkeypatch.setattr(
            xlsxwriter.Workbook, "close", _fail_save_midway(OSError(28, "No space left on device"))
        )
    elif how == "save-interrupt":
        monkeypatch.setattr(xlsxwriter.Workbook, "close", _fail_save_midway(KeyboardInterrupt()))
        expected = KeyboardInterrupt
    elif how == "render-raises":
        import szqa_xl.xlsx.writer

        def write(plan, path, **options):
            raise RuntimeError("renderer died")

        monkeypatch.setattr(szqa_xl.xlsx.writer, "write", write)
        expected = RuntimeError
    else:
        import szqa_xl.consolidation.batch

        real = szqa_xl.consolidation.batch.write_scores_csv

        def write_scores_csv(cons, path):  # the disk fills up half way through scores.csv
            real(cons, path)
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(szqa_xl.consolidation.batch, "write_scores_csv", write_scores_csv)
    with pytest.raises(expected):
        write_outputs(cons, out)
    monkeypatch.undo()
    left = sorted(p.name for p in out.rglob("*")) if out.exists() else []
    assert "consolidated.xlsx" not in left
    assert "scores.csv" not in left  # the two outputs appear together or not at all
    assert not [n for n in left if n.endswith(".part") or n.startswith(".")], left
    # and the next run is not blocked by debris
    write_outputs(cons, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["consolidated.xlsx", "scores.csv"]


def test_two_runs_into_different_folders_do_not_interfere(mixed_returns, tmp_path):
    before = hf.sha256_tree(mixed_returns)

    def run(out: Path):
        return write_outputs(consolidate_dir(mixed_returns, year=hf.YEAR, workers=0), out)

    with ThreadPoolExecutor(max_workers=2) as ex:
        a, b = ex.map(run, [tmp_path / "out_a", tmp_path / "out_b"])
    for out in (tmp_path / "out_a", tmp_path / "out_b"):
        assert sorted(p.name for p in out.iterdir()) == ["consolidated.xlsx", "scores.csv"]
        load_workbook(out / "consolidated.xlsx")
    assert a["csv"].read_bytes() == b["csv"].read_bytes()
    assert hf.sha256_tree(mixed_returns) == before


@pytest.mark.parametrize("existing", ["both", "csv-only", "workbook-only"])
def test_existing_output_not_overwritten_without_force(mixed_returns, tmp_path, existing):
    cons = consolidate_dir(mixed_returns, year=hf.YEAR, workers=0)
    out = tmp_path / "out"
    write_outputs(cons, out)
    if existing == "csv-only":
        (out / "consolidated.xlsx").unlink()
    elif existing == "workbook-only":
        (out / "scores.csv").unlink()
    before = hf.sha256_tree(out)
    with pytest.raises(FileExistsError):
        write_outputs(cons, out)
    assert hf.sha256_tree(out) == before
    write_outputs(cons, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["consolidated.xlsx", "scores.csv"]


def test_sha256_helper_detects_change(tmp_path):
    """The byte-identity check used by every case really notices a one-byte change."""
    p = tmp_path / "f.xlsx"
    p.write_bytes(b"abc")
    before = hf.sha256_tree(tmp_path)
    p.write_bytes(b"abd")
    assert hf.sha256_tree(tmp_path) != before
    assert before == {"f.xlsx": hashlib.sha256(b"abc").hexdigest()}


def test_reasons_show_sheet_and_cell_in_returns_sheet(hostile_kit, tmp_path):
    """The clerk sees 评分表!H<row> and the reason in the consolidated workbook's 回收情况 sheet."""
    out, rec = run_case(
        hostile_kit, tmp_path, lambda dst: hf.set_cells(hostile_kit.victim, dst, {addr("pct"): 62})
    )
    paths = write_outputs(out.cons, tmp_path / "out")
    ws = load_workbook(paths["workbook"])["回收情况"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=4)]
    mine = [r for r in rows if r[1] == hostile_kit.victim.name]
    assert len(mine) == 1
    assert f"{SHEET_SCORES}!{ref('pct')}" in mine[0][10] and "62" in mine[0][10]


@pytest.mark.parametrize(
    ("xml", "want"),
    [
        (b'<c r="H5" s="1"><f>1+1</f><v>2</v></c><c r="I5"><v>3</v></c>', {"H5"}),
        (b'<x:c r="H5"><x:f>1+1</x:f></x:c>', {"H5"}),
        (
            b'<c r="H5" t="n">\n  <f t="shared" ref="H5:L5" si="0"/></c><c r="I5"><f t="shared" si="0"/></c>',
            {"H5", "I5"},
        ),
        (b'<c note="a>b" r="H5"><f>1</f></c>', {"H5"}),  # ">" inside another attribute's value
        (b'<c data=\' r="Z9"\' r="H5"><f>1</f></c>', {"H5"}),  # a fake r= inside a value
        (b'<c r="H5"><v>1</v></c><c r="I5" t="inlineStr"><is><t>f &lt;f&gt;</t></is></c>', set()),
        (b"<c r='H5'><v>2</v><f>1+1</f></c>", {"H5"}),  # <f> after <v>
        (b'<c r="G5"/><c><!-- x --> <f>1+1</f></c>', {"H5"}),  # implied position, comment before <f>
    ],
)
def test_formula_cells_found_by_their_own_reference(xml: bytes, want: set[str]) -> None:
    """A formula in an input cell is reported at that cell, however the cell's tag is written."""
    part = (
        f'<worksheet xmlns="{hf.MAIN_NS}" xmlns:x="{hf.MAIN_NS}"><sheetData><row r="5">'.encode()
        + xml
        + b"</row></sheetData></worksheet>"
    )
    view = xmlparts.worksheet(part, "sheet", [], ["General", "General"], False, 1000, 64)
    assert {xmlparts.cell_name(p) for p in view.formulas} == want
