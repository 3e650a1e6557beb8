"""The returns sheet and scores.csv tell the secretariat what really arrived.

- A file refused before its identity could be read (an .ods or .xls save, a password, a CSV) is
  matched to its issued entry by name: its examiner is not also listed as 未返回.
- A unit with a band but no percentage keeps its band in the tidy scores and scores.csv.
- An invalid value is reported once, at its cell, not once more as an unfinished unit.
"""

from __future__ import annotations

import csv
import io
import zipfile

import hostile_files as hf
import pytest

from szqa_xl.consolidation.batch import write_outputs
from szqa_xl.returns.reader import read_return
from szqa_xl.scoresheet.layout import SHEET_SCORES

U = hf.first_unit()


def _ods_bytes() -> bytes:
    """The shape of an OpenDocument spreadsheet: a stored ``mimetype`` first, then content.xml."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED
        )
        zf.writestr("content.xml", '<?xml version="1.0"?><office:document-content/>')
        zf.writestr("META-INF/manifest.xml", "<manifest/>")
    return buf.getvalue()


SAVES = {
    "ods": (".ods", _ods_bytes, "ods", ["ODS", ".xlsx", "另存为"]),
    "xls": (".xls", lambda: hf.cfb_file("Workbook".encode("utf-16-le")), "legacy-xls", [".xls", ".xlsx"]),
    "password": (".xlsx", lambda: hf.cfb_file("EncryptedPackage".encode("utf-16-le")), "encrypted", ["密码"]),
    "csv": (".csv", lambda: b"unit,pct\n1.1,80\n", "not-xlsx", ["CSV"]),
}


@pytest.mark.parametrize("case", SAVES)
def test_file_refused_before_its_identity_is_matched_by_name(hostile_kit, tmp_path, case):
    suffix, make, code, words = SAVES[case]
    folder = hostile_kit.batch(tmp_path / "returns")
    name = hostile_kit.victim.with_suffix(suffix).name
    (folder / name).write_bytes(make())
    out = hf.check_batch(hostile_kit, folder, manifest=True)
    rec = out.record(name)
    hf.problem(rec, code, words=words)
    note = hf.problem(rec, "matched-by-name", words=[hostile_kit.issue_ids[hf.VICTIM]])
    assert note.severity == "warning"
    assert (rec.issue_id, rec.examiner_id, rec.examiner_name) == (
        hostile_kit.issue_ids[hf.VICTIM],
        hf.VICTIM,
        hf.EXAMINERS[hf.VICTIM],
    )
    missing = [r for r in out.cons.returns if r.status == "missing"]
    assert hf.VICTIM not in {r.examiner_id for r in missing}, "the examiner who sent a file is not 未返回"
    assert {r.examiner_id for r in missing} == {"E04"}  # the one examiner who really sent nothing


def test_unmatched_name_is_not_guessed(hostile_kit, tmp_path):
    folder = hostile_kit.batch(tmp_path / "returns")
    (folder / "scan_0001.ods").write_bytes(_ods_bytes())
    out = hf.check_batch(hostile_kit, folder, manifest=True)
    rec = out.record("scan_0001.ods")
    assert rec.issue_id == "" and not [p for p in rec.problems if p.code == "matched-by-name"]
    assert hf.VICTIM in {r.examiner_id for r in out.cons.returns if r.status == "missing"}


def test_band_without_percentage_kept_in_scores_csv(hostile_kit, tmp_path):
    folder = hostile_kit.batch(tmp_path / "returns")
    victim = folder / hostile_kit.victim.name
    band = read_return(hostile_kit.victim).units[U].band
    assert band
    hf.set_cells(hostile_kit.victim, victim, {f"{SHEET_SCORES}!{hf.cell_of(U, 'pct')}": None})
    out = hf.check_batch(hostile_kit, folder)
    rec = out.record(victim.name)
    assert rec.status == "incomplete"
    tidy = out.cons.tidy
    row = tidy[(tidy["examiner_id"] == hf.VICTIM) & (tidy["unit"] == U)].iloc[0]
    assert row["band"] == band and row["pct"] != row["pct"]  # NaN: not scored
    paths = write_outputs(out.cons, tmp_path / "out")
    with paths["csv"].open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["examiner_id"] == hf.VICTIM and r["unit"] == U]
    assert [(r["band"], r["pct"]) for r in rows] == [(band, "")]


@pytest.mark.parametrize(("value", "code"), [("abc", "pct-not-number"), (62, "off-grid")])
def test_invalid_value_reported_once(hostile_kit, tmp_path, value, code):
    path = tmp_path / hostile_kit.victim.name
    cell = hf.cell_of(U, "pct")
    hf.set_cells(hostile_kit.victim, path, {f"{SHEET_SCORES}!{cell}": value})
    rf = read_return(path)
    at_cell = [p.code for p in rf.problems if p.cell == cell]
    assert at_cell == [code], [str(p) for p in rf.problems]
