"""The year's archive: everything the year produced, byte for byte, and a check that names what changed.

One demo year folder (szqa_xl.demo.run_demo, built once for the module) for the realistic cases, small
hand-made folders and zips for the rest."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import struct
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest

from szqa_xl.consensus.results import reports_available
from szqa_xl.demo import SAMPLE_ROSTER, run_demo
from szqa_xl.stages.archive import (
    DIGEST_NAME,
    MANIFEST_NAME,
    RETURNS_LOG,
    ArchiveError,
    ArchiveReport,
    build_archive,
    verify_archive,
)
from szqa_xl.standards.load import _standards_dir, builtin_standard, fingerprint, load_standard

RESULTS_CSV = "4_results/results.csv"
RETURN = "2_returns/2027_经济类_EC-001_E01_李明.xlsx"
TAMPERED = "2_returns/篡改_2027_文化类_CU-001_E06_黄磊.xlsx"
OLD_YEAR = "2_returns/旧表_2026_经济类_EC-001_E01_李明.xlsx"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under root (hidden and lock files too): relative path -> (sha256, size, mtime_ns)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[p.relative_to(root).as_posix()] = (
                sha(p.read_bytes()),
                p.stat().st_size,
                p.stat().st_mtime_ns,
            )
    return out


def members(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def rewrite(
    src: Path,
    dst: Path,
    *,
    alter: dict[str, bytes | None] | None = None,
    add: list[tuple[str, bytes]] = (),
) -> Path:
    """Copy a zip, replacing (bytes) or dropping (None) some members and appending others."""
    alter = alter or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = alter.get(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(zipfile.ZipInfo(info.filename, info.date_time), data, zipfile.ZIP_DEFLATED)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Duplicate name": wanted here
            for name, data in add:
                zout.writestr(zipfile.ZipInfo(name, (2027, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return dst


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def codes(report) -> list[str]:
    return sorted(p.code for p in report.problems)


# --- the demo year -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("year") / "2027"
    run_demo(root)
    (root / "2_returns" / "~$2027_经济类_EC-001_E01_李明.xlsx").write_bytes(b"lock")  # Excel's lock file
    (root / "4_results" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return root


@pytest.fixture(scope="module")
def built(year: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ArchiveReport, dict, dict]:
    before = tree(year)
    out = tmp_path_factory.mktemp("archive") / "2027年度归档.zip"
    report = build_archive(year, out, roster=SAMPLE_ROSTER)
    return out, report, before, tree(year)


@pytest.fixture(scope="module")
def archive(built) -> Path:
    return built[0]


@pytest.fixture(scope="module")
def report(built) -> ArchiveReport:
    return built[1]


def test_a_fresh_archive_verifies(archive: Path, report: ArchiveReport) -> None:
    v = verify_archive(archive)
    assert v.ok, [str(p) for p in v.problems]
    assert (v.changed, v.missing, v.added, v.problems) == ([], [], [], [])
    assert v.checked == len(report.members) == len(v.members)
    assert v.manifest_sha256 == report.manifest_sha256
    assert v.by_role == report.by_role
    assert verify_archive(archive, expected_manifest_sha256=report.manifest_sha256).ok
    assert report.problems == []


def test_every_file_of_the_year_is_in_it_byte_for_byte(
    year: Path, archive: Path, report: ArchiveReport
) -> None:
    inside = members(archive)
    earlier = "7_归档/2027_archive.zip"  # the demo's own archive of the year: not packed into another
    expected = {
        rel: sha((year / rel).read_bytes())
        for rel in tree(year)
        if not Path(rel).name.startswith(("~$", ".")) and rel != earlier
    }
    assert len(expected) > 100
    assert {rel: sha(inside[rel]) for rel in expected if rel in inside} == expected
    # MANIFEST.csv lists every other member with its true size and hash, and nothing else
    listed = {r["path"]: r for r in read_csv(inside[MANIFEST_NAME])}
    assert set(listed) == set(inside) - {MANIFEST_NAME, DIGEST_NAME}
    for name, row in listed.items():
        assert (int(row["size"]), row["sha256"]) == (len(inside[name]), sha(inside[name])), name
    assert inside[DIGEST_NAME].decode().split()[0] == sha(inside[MANIFEST_NAME]) == report.manifest_sha256
    # the lock file and the hidden file are skipped, and said to be
    assert report.skipped == ["2_returns/~$2027_经济类_EC-001_E01_李明.xlsx", "4_results/.DS_Store", earlier]
    assert earlier not in inside
    assert not any(Path(n).name.startswith(("~$", ".")) for n in inside)
    with zipfile.ZipFile(archive) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}


def test_the_year_folder_is_unchanged(built) -> None:
    _out, _report, before, after = built
    assert after == before  # same files, bytes and modification times: nothing written beside them


def expected_role_and_stage(rel: str) -> tuple[str, str]:
    """A second opinion from the demo's folder layout alone."""
    name, path = Path(rel).name, "/" + rel
    stage = "" if rel.startswith("6_") else "现场核查" if rel.startswith("5_现场核查/") else "材料评审"
    if name.startswith(("篡改_", "旧表_")):
        return "rejected-return", stage
    if "/2_returns/" in path:
        return "returned", stage
    if "/1_scoresheets/" in path:
        return ("manifest" if name == "manifest.csv" else "issued"), stage
    if name.startswith("共识表_"):
        return "panel-workbook", stage
    if name == "共识索引.jsonl":
        return "consensus-index", stage
    if name in ("consolidated.xlsx", "scores.csv"):
        return "consolidation", stage
    if name.startswith("反馈报告_"):
        return "feedback", stage
    if name in ("results.xlsx", "results.csv", "consensus_units.csv", "final.csv", "final.xlsx"):
        return "results", stage
    if name.endswith("名单.csv"):
        return "roster", stage
    return "other", stage


def test_every_file_of_the_year_has_its_role_and_stage(year: Path, report: ArchiveReport) -> None:
    got = {m.path: (m.role, m.stage) for m in report.members}
    year_files = [
        rel
        for rel in tree(year)
        if not Path(rel).name.startswith(("~$", ".")) and not rel.startswith("7_归档/")
    ]
    wrong = {
        rel: (got[rel], expected_role_and_stage(rel))
        for rel in year_files
        if got[rel] != expected_role_and_stage(rel)
    }
    assert wrong == {}
    counts = report.by_role
    assert counts["rejected-return"] == 2 and counts["issued"] >= 35 and counts["manifest"] >= 1
    assert counts["standard"] == 2 and counts["log"] == 1 and counts["roster"] >= 1
    assert sum(counts.values()) == len(report.members) == len(year_files) + 4  # + roster, 2 standards, log
    assert f"rejected-return {counts['rejected-return']}" in report.summary()


def test_one_changed_byte_is_named(archive: Path, tmp_path: Path) -> None:
    data = bytearray(members(archive)[RESULTS_CSV])
    data[200] ^= 0x01
    v = verify_archive(rewrite(archive, tmp_path / "a.zip", alter={RESULTS_CSV: bytes(data)}))
    assert not v.ok
    assert (v.changed, v.missing, v.added) == ([RESULTS_CSV], [], [])
    assert codes(v) == ["changed"]
    assert v.problems[0].file == RESULTS_CSV


def test_a_removed_member_is_missing(archive: Path, tmp_path: Path) -> None:
    v = verify_archive(rewrite(archive, tmp_path / "a.zip", alter={TAMPERED: None}))
    assert (v.changed, v.missing, v.added) == ([], [TAMPERED], [])
    assert codes(v) == ["missing"] and not v.ok


def test_an_added_member_is_named(archive: Path, tmp_path: Path) -> None:
    late = "2_returns/2027_经济类_EC-001_E05_赵敏.xlsx"
    v = verify_archive(rewrite(archive, tmp_path / "a.zip", add=[(late, b"PK late return")]))
    assert (v.changed, v.missing, v.added) == ([], [], [late])
    assert codes(v) == ["added"] and not v.ok


def test_an_edited_manifest_is_detected(archive: Path, report: ArchiveReport, tmp_path: Path) -> None:
    inside = members(archive)
    # the member changed and its row in MANIFEST.csv "fixed" to match: only the digest catches it
    forged = inside[RETURN] + b"\0"
    text = inside[MANIFEST_NAME].decode("utf-8-sig")
    row = next(line for line in text.splitlines() if line.startswith(RETURN + ","))
    new_row = f"{RETURN},{len(forged)},{sha(forged)},returned,材料评审"
    assert row != new_row
    manifest = text.replace(row, new_row).encode("utf-8-sig")
    v = verify_archive(rewrite(archive, tmp_path / "a.zip", alter={RETURN: forged, MANIFEST_NAME: manifest}))
    assert (v.changed, v.missing, v.added) == ([], [], [])
    assert codes(v) == ["manifest-digest-mismatch"] and not v.ok
    # ... and with MANIFEST.sha256 forged too, the digest recorded when the archive was made catches it
    digest = f"{sha(manifest)}  {MANIFEST_NAME}\n".encode()
    alter = {RETURN: forged, MANIFEST_NAME: manifest, DIGEST_NAME: digest}
    forged_zip = rewrite(archive, tmp_path / "b.zip", alter=alter)
    assert verify_archive(forged_zip).ok
    v = verify_archive(forged_zip, expected_manifest_sha256=report.manifest_sha256)
    assert codes(v) == ["manifest-digest-unexpected"] and not v.ok


def test_without_its_manifest_nothing_is_trusted(archive: Path, tmp_path: Path) -> None:
    v = verify_archive(rewrite(archive, tmp_path / "a.zip", alter={MANIFEST_NAME: None, DIGEST_NAME: None}))
    assert not v.ok
    assert {"no-manifest", "no-manifest-digest"} <= set(codes(v))
    assert RESULTS_CSV in v.added


def test_rejected_returns_are_archived_with_their_reasons(
    year: Path, archive: Path, report: ArchiveReport
) -> None:
    roles = {m.path: m.role for m in report.members}
    assert sorted(p for p, r in roles.items() if r == "rejected-return") == [OLD_YEAR, TAMPERED]
    inside = members(archive)
    for rel in (OLD_YEAR, TAMPERED):
        assert inside[rel] == (year / rel).read_bytes()  # untouched
    log = {r["member"]: r for r in read_csv(inside[RETURNS_LOG]) if r["member"]}
    assert log[TAMPERED]["status"] == log[OLD_YEAR]["status"] == "拒收"
    assert "锁定单元格被改动" in log[TAMPERED]["reasons"]
    assert "2026" in log[OLD_YEAR]["reasons"]
    assert log[TAMPERED]["file"] == Path(TAMPERED).name
    assert log[RETURN]["status"] == "已接收" and roles[RETURN] == "returned"
    # every returned file is in the log; the one never returned is there too, without a member
    returned = {p for p, r in roles.items() if r in ("returned", "rejected-return")}
    assert set(log) == returned
    missing = [r for r in read_csv(inside[RETURNS_LOG]) if r["status_code"] == "missing"]
    assert len(missing) == 1 and missing[0]["member"] == "" and missing[0]["reasons"]


def test_roles_and_stages_of_known_files(report: ArchiveReport) -> None:
    got = {m.path: (m.role, m.stage) for m in report.members}
    stage = "材料评审"
    assert got["1_scoresheets/manifest.csv"] == ("manifest", stage)
    issued = (
        "1_scoresheets/2027/economic_经济类/EC-001_深圳湾精密制造有限公司/2027_经济类_EC-001_E01_李明.xlsx"
    )
    assert got[issued] == ("issued", stage)  # the name has no stage: it comes from manifest.csv
    assert got[RETURN] == ("returned", stage)
    assert got[TAMPERED] == ("rejected-return", stage)
    panel = "3_consolidated/consensus/共识表_2027_经济类_材料评审_EC-001_深圳湾精密制造有限公司.xlsx"
    assert got[panel] == ("panel-workbook", stage)
    assert got["3_consolidated/consensus/共识索引.jsonl"] == ("consensus-index", stage)
    assert got["3_consolidated/consolidated.xlsx"] == ("consolidation", stage)
    assert got["3_consolidated/scores.csv"] == ("consolidation", stage)
    assert got["4_results/results.xlsx"] == ("results", stage)
    assert got[RESULTS_CSV] == ("results", stage)
    docx = "4_results/feedback/反馈报告_2027_经济类_材料评审_EC-001_深圳湾精密制造有限公司.docx"
    if reports_available():  # without python-docx (no lxml) the demo writes no reports
        assert got[docx] == ("feedback", stage)
    else:
        assert docx not in got
    assert got["roster/sample_roster.csv"] == ("roster", stage)
    assert got["standards/economic.yaml"] == got["standards/culture.yaml"] == ("standard", "")
    assert got[RETURNS_LOG][0] == "log"


def test_the_standards_used_are_archived(year: Path, archive: Path) -> None:
    inside = members(archive)
    assert sorted(n for n in inside if n.startswith("standards/")) == [
        "standards/culture.yaml",
        "standards/economic.yaml",
    ]
    used = {
        r["award_category"]: r["fingerprint"]
        for r in read_csv((year / "1_scoresheets/manifest.csv").read_bytes())
    }
    for award in ("economic", "culture"):
        data = inside[f"standards/{award}.yaml"]
        assert data == (_standards_dir() / f"{award}.yaml").read_bytes()
        # the edition the scoresheets were issued from, exactly
        (p := Path(archive.parent / f"{award}.yaml")).write_bytes(data)
        assert fingerprint(load_standard(p)) == used[award]
    assert inside["roster/sample_roster.csv"] == SAMPLE_ROSTER.read_bytes()


def test_refuses_to_overwrite_without_force(year: Path, archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "归档.zip"
    out.write_bytes(b"last year's archive")
    with pytest.raises(FileExistsError):
        build_archive(year, out)
    assert out.read_bytes() == b"last year's archive"
    report = build_archive(year, out, force=True)
    assert verify_archive(out).ok
    assert not any(m.path.startswith("roster/") for m in report.members)  # none given this time
    assert [p.name for p in tmp_path.iterdir()] == ["归档.zip"]  # no temporary file left behind


def test_hostile_member_names_are_reported_not_extracted(archive: Path, tmp_path: Path, monkeypatch) -> None:
    hostile = rewrite(
        archive,
        tmp_path / "hostile.zip",
        add=[("../x", b"escaped"), ("/abs", b"absolute"), (RESULTS_CSV, b"second copy")],
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert not Path("/abs").exists()
    v = verify_archive(hostile)
    assert not v.ok
    unsafe = sorted(p.file for p in v.problems if p.code == "unsafe-name")
    assert unsafe == ["../x", "/abs"]
    assert sorted(v.added) == ["../x", "/abs"]
    assert [p.file for p in v.problems if p.code == "duplicate-name"] == [RESULTS_CSV]
    assert v.changed == [RESULTS_CSV]  # the second copy differs from what the manifest records
    assert list(work.iterdir()) == [] and not (tmp_path / "x").exists() and not Path("/abs").exists()


def test_a_corrupt_member_is_reported_not_raised(archive: Path, tmp_path: Path) -> None:
    raw = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(RESULTS_CSV)
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    raw[start + info.compress_size // 2] ^= 0xFF
    (bad := tmp_path / "bad.zip").write_bytes(bytes(raw))
    v = verify_archive(bad)
    assert v.changed == [RESULTS_CSV] and not v.ok
    assert "unreadable-member" in codes(v) or codes(v) == ["changed"]


def test_not_a_zip_and_truncated_are_problems(archive: Path, tmp_path: Path) -> None:
    (txt := tmp_path / "x.zip").write_bytes(b"this is not a zip")
    assert codes(verify_archive(txt)) == ["not-a-zip"]
    assert codes(verify_archive(tmp_path / "absent.zip")) == ["not-a-zip"]
    (cut := tmp_path / "cut.zip").write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    v = verify_archive(cut)
    assert not v.ok and v.problems


def test_size_caps_refuse_before_reading(archive: Path, tmp_path: Path) -> None:
    v = verify_archive(archive, max_total_size=1000)
    assert codes(v) == ["too-large"] and v.checked == 0
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("zeros.bin", "w") as fh:
        for _ in range(48):
            fh.write(bytes(1024**2))
    v = verify_archive(bomb)
    assert codes(v) == ["zip-bomb"] and v.checked == 0 and not v.ok


# --- small hand-made year folders ----------------------------------------------------------------


def returns_workbook(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    """A consolidated.xlsx with only its 回收情况 sheet, laid out as the consolidation writes it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "回收情况"
    ws.append(["评分表回收情况"])
    ws.append(["已接收 1；拒收 1"])
    ws.append(
        [
            "状态",
            "文件",
            "发放编号",
            "年度",
            "奖项类别",
            "评审阶段",
            "申报编号",
            "申报组织/项目",
            "评审员编号",
            "评审员",
            "原因（工作表!单元格）",
        ]
    )
    for status, file, stage, reason in rows:
        ws.append(
            [status, file, "abc", "2027", "经济类", stage, "EC-001", "甲公司", "E01", "李明", reason or None]
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def small_year(root: Path, fp: str | None = None) -> Path:
    """English folder names, a second-stage year: what a CLI user might have."""
    fp = fp or fingerprint(builtin_standard("economic"))
    name = "2027_经济类_EC-001_E01_李明.xlsx"
    sheets = root / "scoresheets"
    (sheets / "2027/economic_经济类/EC-001_甲公司").mkdir(parents=True)
    (sheets / "2027/economic_经济类/EC-001_甲公司" / name).write_bytes(b"PK issued")
    (sheets / "manifest.csv").write_text(
        "issue_id,fingerprint,year,award_category,stage,applicant_id,applicant_name,applicant_kind,"
        "examiner_id,examiner_name,path\n"
        f"abc,{fp},2027,economic,集中答辩,EC-001,甲公司,organisation,E01,李明,2027/economic_经济类/EC-001_甲公司/{name}\n",
        encoding="utf-8-sig",
    )
    (root / "inbox").mkdir()
    (root / "inbox" / name).write_bytes(b"PK returned")
    (root / "inbox" / "李明_改过的.xlsx").write_bytes(b"PK bad")
    returns_workbook(
        root / "out/consolidated.xlsx",
        [
            ("拒收", "李明_改过的.xlsx", "集中答辩", "评分表!C5 锁定单元格被改动"),
            ("已接收", name, "集中答辩", ""),
        ],
    )
    (root / "out/scores.csv").write_text(
        "year,award_category,stage\n2027,economic,集中答辩\n", encoding="utf-8"
    )
    (root / "out/consensus").mkdir()
    (root / "out/consensus/共识表_2027_经济类_集中答辩_EC-001_甲公司.xlsx").write_bytes(b"PK panel")
    head = {"version": 1, "current": {}}
    entry = {"file": "p", "key": ["2027", "economic", "集中答辩", "EC-001"]}
    (root / "out/consensus/共识索引.jsonl").write_text(
        json.dumps(head) + "\n" + json.dumps(entry) + "\n", encoding="utf-8"
    )
    (root / "final/feedback").mkdir(parents=True)
    (root / "final/results.csv").write_text(
        "year,award_category,stage\n2027,economic,集中答辩\n", encoding="utf-8"
    )
    (root / "final/feedback/反馈报告_2027_经济类_集中答辩_EC-001_甲公司.docx").write_bytes(b"PK docx")
    (root / "notes.txt").write_text("会议纪要", encoding="utf-8")
    (root / ".hidden").mkdir()
    (root / ".hidden/secret.txt").write_text("x", encoding="utf-8")
    (root / ".~lock.notes.txt#").write_text("lock", encoding="utf-8")
    return root


def test_english_folders_are_recognised_by_content(tmp_path: Path) -> None:
    root = small_year(tmp_path / "y")
    rep = build_archive(root, tmp_path / "a.zip", extra=[SAMPLE_ROSTER])
    got = {m.path: (m.role, m.stage) for m in rep.members}
    assert got == {
        "scoresheets/2027/economic_经济类/EC-001_甲公司/2027_经济类_EC-001_E01_李明.xlsx": (
            "issued",
            "集中答辩",
        ),
        "scoresheets/manifest.csv": ("manifest", "集中答辩"),
        "inbox/2027_经济类_EC-001_E01_李明.xlsx": ("returned", "集中答辩"),
        "inbox/李明_改过的.xlsx": ("rejected-return", "集中答辩"),
        "out/consolidated.xlsx": ("consolidation", "集中答辩"),
        "out/scores.csv": ("consolidation", "集中答辩"),
        "out/consensus/共识表_2027_经济类_集中答辩_EC-001_甲公司.xlsx": ("panel-workbook", "集中答辩"),
        "out/consensus/共识索引.jsonl": ("consensus-index", "集中答辩"),
        "final/results.csv": ("results", "集中答辩"),
        "final/feedback/反馈报告_2027_经济类_集中答辩_EC-001_甲公司.docx": ("feedback", "集中答辩"),
        "notes.txt": ("other", ""),
        "standards/economic.yaml": ("standard", ""),
        "extra/sample_roster.csv": ("roster", "材料评审"),
        RETURNS_LOG: ("log", "集中答辩"),
    }
    assert rep.skipped == [".hidden/", ".~lock.notes.txt#"]
    assert rep.problems == []
    assert verify_archive(tmp_path / "a.zip").ok
    log = read_csv(members(tmp_path / "a.zip")[RETURNS_LOG])
    assert [(r["member"], r["status"], r["reasons"]) for r in log] == [
        ("inbox/李明_改过的.xlsx", "拒收", "评分表!C5 锁定单元格被改动"),
        ("inbox/2027_经济类_EC-001_E01_李明.xlsx", "已接收", ""),
    ]


def test_an_edition_other_than_the_shipped_one_is_flagged(tmp_path: Path) -> None:
    root = small_year(tmp_path / "y", fp="0" * 64)
    rep = build_archive(root, tmp_path / "a.zip")
    assert [(p.code, p.severity) for p in rep.problems] == [("edition-not-found", "warning")]
    assert verify_archive(tmp_path / "a.zip").ok


def test_an_edition_given_as_extra_is_archived_as_the_standard(tmp_path: Path) -> None:
    edited = tmp_path / "economic-2028.yaml"
    text = (_standards_dir() / "economic.yaml").read_text(encoding="utf-8")
    edition = builtin_standard("economic").edition
    edited.write_text(text.replace(edition, edition + "（修订）", 1), encoding="utf-8")
    fp = fingerprint(load_standard(edited))
    assert fp != fingerprint(builtin_standard("economic"))
    root = small_year(tmp_path / "y", fp=fp)
    rep = build_archive(root, tmp_path / "a.zip", extra=[edited])
    assert rep.problems == []
    inside = members(tmp_path / "a.zip")
    assert inside["standards/economic.yaml"] == edited.read_bytes()
    assert not any(n.startswith("extra/") for n in inside)


def test_a_year_folder_holding_reserved_names_is_refused(tmp_path: Path) -> None:
    root = small_year(tmp_path / "y")
    (root / MANIFEST_NAME).write_text("path,size,sha256,role,stage\n", encoding="utf-8")
    with pytest.raises(ArchiveError, match=MANIFEST_NAME):
        build_archive(root, tmp_path / "a.zip")
    (root / MANIFEST_NAME).unlink()
    (root / "standards").mkdir()
    (root / "standards" / "economic.yaml").write_text("edition: 别的版本\n", encoding="utf-8")
    with pytest.raises(ArchiveError, match="standards/economic.yaml"):
        build_archive(root, tmp_path / "a.zip")
    assert not (tmp_path / "a.zip").exists()
    (root / "standards" / "economic.yaml").rename(root / "standards" / "notes.yaml")
    rep = build_archive(root, tmp_path / "a.zip")  # a standards/ folder of its own is fine otherwise
    assert {m.path: m.role for m in rep.members}["standards/notes.yaml"] == "standard"


def test_the_archive_inside_the_year_folder_is_not_archived_into_itself(tmp_path: Path) -> None:
    root = small_year(tmp_path / "y")
    out = root / "archive" / "2027.zip"
    build_archive(root, out)
    rep = build_archive(root, out, force=True)
    assert "archive/2027.zip" not in {m.path for m in rep.members}
    assert verify_archive(out).ok


def test_an_extra_folder_is_archived_under_extra(tmp_path: Path) -> None:
    root = small_year(tmp_path / "y")
    minutes = tmp_path / "会议纪要"
    minutes.mkdir()
    (minutes / "第一次会议.docx").write_bytes(b"PK minutes")
    (minutes / "~$第一次会议.docx").write_bytes(b"lock")
    rep = build_archive(root, tmp_path / "a.zip", extra=[minutes])
    got = {m.path: m.role for m in rep.members if m.path.startswith("extra/")}
    assert got == {"extra/会议纪要/第一次会议.docx": "other"}
    assert "extra/会议纪要/~$第一次会议.docx" in rep.skipped
    assert members(tmp_path / "a.zip")["extra/会议纪要/第一次会议.docx"] == b"PK minutes"
