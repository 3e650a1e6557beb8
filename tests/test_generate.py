"""``szqa generate``: one scoresheet per roster row plus a manifest, or a blank template;
a roster with problems is reported row by row and nothing is written."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from szqa_xl.cli import app
from szqa_xl.scoresheet.generate import MANIFEST_COLUMNS, generate, read_manifest
from szqa_xl.scoresheet.layout import SHEET_COVER, SHEET_META, SHEET_SCORES
from szqa_xl.scoresheet.roster import COLUMNS
from szqa_xl.standards.load import builtin_standard, fingerprint

SAMPLE = Path(__file__).resolve().parent.parent / "szqa_xl" / "data" / "sample_roster.csv"
HEADER = ",".join((*COLUMNS, "stage"))
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def flat(text: str) -> str:
    """Console output without the line breaks rich inserts at the terminal width."""
    return re.sub(r"\s+", "", text)


def sample_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(SAMPLE.read_text(encoding="utf-8-sig").splitlines()))


def meta(path: Path) -> dict[str, str]:
    wb = load_workbook(path)
    return {r[0].value: r[1].value for r in wb[SHEET_META].iter_rows(min_row=2, max_col=2) if r[0].value}


def written(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("gen") / "scoresheets"
    result = run("generate", "--roster", SAMPLE, "--year", "2027", "--out", out)
    return out, result


def test_generate_writes_one_file_per_roster_row(generated):
    out, result = generated
    assert result.exit_code == 0, result.output
    rows = sample_rows()
    files = sorted(out.rglob("*.xlsx"))
    assert len(files) == len(rows)
    assert f"{len(rows)} scoresheets written" in result.output
    folders = {p.relative_to(out).parts[:3] for p in files}
    assert all(year == "2027" for year, _, _ in folders)
    applicants = {(r["award_category"], r["applicant_id"]) for r in rows}
    assert len(folders) == len(applicants), "one folder per applicant"
    for r in rows:
        std = builtin_standard(r["award_category"])
        folder = out / "2027" / f"{std.id}_{std.name_zh}" / f"{r['applicant_id']}_{r['applicant_name']}"
        mine = [p for p in folder.glob("*.xlsx") if f"_{r['examiner_id']}_{r['examiner_name']}" in p.name]
        assert len(mine) == 1, f"{r['applicant_id']} / {r['examiner_id']}: {mine}"
        assert mine[0].name.startswith(f"2027_{std.name_zh}_{r['applicant_id']}_")


def test_manifest_lists_every_issued_file(generated):
    out, result = generated
    assert result.exit_code == 0, result.output
    manifest = out / "manifest.csv"
    with manifest.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == MANIFEST_COLUMNS
        rows = list(reader)
    assert manifest.read_bytes().startswith(b"\xef\xbb\xbf"), "BOM so that Excel opens the CSV as UTF-8"
    roster = sample_rows()
    assert len(rows) == len(roster)
    ids = [r["issue_id"] for r in rows]
    assert len(set(ids)) == len(ids), "issue ids must be unique"
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    listed = {(r["applicant_id"], r["examiner_id"]) for r in rows}
    assert listed == {(r["applicant_id"], r["examiner_id"]) for r in roster}
    for row in rows:
        std = builtin_standard(row["award_category"])
        assert row["fingerprint"] == fingerprint(std)
        assert row["year"] == "2027" and row["stage"] == "材料评审"
        path = out / row["path"]
        assert path.is_file(), row["path"]
        m = meta(path)
        assert m["issue_id"] == row["issue_id"]
        assert m["fingerprint"] == row["fingerprint"]
        for key in ("award_category", "applicant_id", "applicant_name", "applicant_kind", "examiner_id"):
            assert m[key] == row[key], (key, row["path"])
    assert read_manifest(manifest) == rows
    assert set(written(out)) == {out / "manifest.csv", *(out / r["path"] for r in rows)}


def test_generated_file_shows_who_it_is_for(generated):
    out, _ = generated
    row = read_manifest(out / "manifest.csv")[-1]  # a culture project in the sample roster
    wb = load_workbook(out / row["path"])
    cover = {r[1].value: r[2].value for r in wb[SHEET_COVER].iter_rows(min_row=3) if r[1].value}
    assert cover["评审年度"] == 2027
    assert cover["申报编号"] == row["applicant_id"]
    assert cover["申报组织/项目"] == row["applicant_name"]
    assert cover["申报类型"] == {"organisation": "组织", "project": "项目"}[row["applicant_kind"]]
    assert cover["评审员"] == row["examiner_name"]
    assert row["applicant_name"] in wb[SHEET_SCORES]["A2"].value


def roster_file(tmp_path: Path, lines: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


GOOD = "EC-001,深圳湾精密制造有限公司,economic,organisation,E01,李明,材料评审"
BAD_ROSTERS = {
    "unknown-category": ([GOOD, "XX-001,某单位,sport,organisation,E02,王芳,材料评审"], 3, "未知奖项类别"),
    "duplicate-pair": ([GOOD, "EC-002,鹏城新能源,economic,organisation,E02,王芳,", GOOD], 4, "重复"),
    "project-for-economic": ([GOOD, "EC-009,某项目,economic,project,E02,王芳,材料评审"], 3, "申报类型"),
    "empty-applicant": ([GOOD, ",某单位,culture,organisation,E02,王芳,材料评审"], 3, "applicant_id"),
}


@pytest.mark.parametrize("case", list(BAD_ROSTERS))
def test_roster_problem_is_reported_by_row_and_nothing_is_written(tmp_path, case):
    lines, row, words = BAD_ROSTERS[case]
    out = tmp_path / "out"
    result = run("generate", "--roster", roster_file(tmp_path, lines), "--year", "2027", "--out", out)
    assert result.exit_code == 1
    text = flat(result.output)
    assert f"第{row}行" in text and words in text, result.output
    assert "nothingwaswritten" in text
    assert written(out) == [], "a roster with problems must not write any file"


def test_roster_missing_column_is_named(tmp_path):
    header = HEADER.replace("examiner_id,", "")
    out = tmp_path / "out"
    lines = ["EC-001,深圳湾精密制造有限公司,economic,organisation,李明,材料评审"]
    result = run("generate", "--roster", roster_file(tmp_path, lines, header), "--year", "2027", "--out", out)
    assert result.exit_code == 1
    text = flat(result.output)
    assert "名单缺少列" in text and "examiner_id" in text, result.output
    assert written(out) == []


def test_every_problem_of_a_roster_is_reported_at_once(tmp_path):
    lines = [
        GOOD,
        "XX-001,某单位,sport,organisation,E02,王芳,材料评审",  # row 3
        "EC-009,某项目,economic,project,E02,王芳,材料评审",  # row 4
        GOOD,  # row 5, duplicate of row 2
        "CU-001,某文化项目,culture,project,E03,陈强,材料评审",  # fine
    ]
    out = tmp_path / "out"
    result = run("generate", "--roster", roster_file(tmp_path, lines), "--year", "2027", "--out", out)
    assert result.exit_code == 1
    text = flat(result.output)
    for row in (3, 4, 5):
        assert f"第{row}行" in text, f"row {row} not reported:\n{result.output}"
    assert "第2行" not in text.replace("同第2行", "") and "第6行" not in text
    assert "3problem(s)" in text
    assert written(out) == []


def test_problem_code_is_shown(tmp_path):
    """Each reported problem carries its code (e.g. [roster-unknown-category]) for the secretariat."""
    lines = ["XX-001,某单位,sport,organisation,E02,王芳,材料评审"]
    result = run(
        "generate", "--roster", roster_file(tmp_path, lines), "--year", "2027", "--out", tmp_path / "o"
    )
    assert result.exit_code == 1
    assert "[roster-unknown-category]" in result.output, result.output


def test_xlsx_roster_works_like_csv(tmp_path):
    rows = sample_rows()[:3] + sample_rows()[-2:]
    wb = Workbook()
    ws = wb.active
    ws.append([*COLUMNS, "stage"])
    for r in rows:
        ws.append([r[c] for c in (*COLUMNS, "stage")])
    ws.append([1001, "数字编号单位", "social", "组织", 7, "钱七", None])  # numbers and a Chinese kind
    path = tmp_path / "roster.xlsx"
    wb.save(path)
    out = tmp_path / "out"
    result = run("generate", "--roster", path, "--year", "2028", "--out", out)
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out / "manifest.csv")
    assert len(manifest) == len(rows) + 1
    last = manifest[-1]
    assert (last["applicant_id"], last["examiner_id"], last["applicant_kind"]) == (
        "1001",
        "7",
        "organisation",
    )
    assert last["stage"] == "材料评审" and last["year"] == "2028"
    assert "1001.0" not in last["path"] and (out / last["path"]).is_file()
    assert meta(out / last["path"])["applicant_id"] == "1001"


def test_stage_column_separates_files_of_the_same_pair(tmp_path):
    lines = [GOOD, "EC-001,深圳湾精密制造有限公司,economic,organisation,E01,李明,现场评审"]
    out = tmp_path / "out"
    result = generate(roster_file(tmp_path, lines), 2027, out)
    assert result.problems == []
    assert len(result.files) == 2 and len(set(result.files)) == 2
    stages = sorted(m["stage"] for m in map(meta, result.files))
    assert stages == ["材料评审", "现场评审"]


def test_blank_template_has_editable_identity_cells(tmp_path):
    target = tmp_path / "X.xlsx"
    result = run("generate", "--blank", "culture", "--out", target)
    assert result.exit_code == 0, result.output
    assert written(tmp_path) == [target]
    wb = load_workbook(target)
    m = {r[0].value: r[1].value for r in wb[SHEET_META].iter_rows(min_row=2, max_col=2) if r[0].value}
    assert m["award_category"] == "culture" and m["issue_id"] == "BLANK"
    cover = wb[SHEET_COVER]
    labels = {r[1].value: r[2] for r in cover.iter_rows(min_row=3) if r[1].value}
    for label in (
        "评审年度",
        "申报编号",
        "申报组织/项目",
        "申报类型",
        "评审员编号",
        "评审员",
        "评审日期",
        "利益冲突声明",
    ):
        cell = labels[label]
        assert cell.value is None, f"{label} should be empty on a blank template"
        assert cell.protection.locked is False, f"{label} must be editable on a blank template"
        assert m[f"cover.{cell_key(label)}"] == f"{SHEET_COVER}!{cell.coordinate}"
    for label in ("奖项类别", "评审阶段", "评分进度", "标准版本"):
        assert labels[label].protection.locked is True, label


def cell_key(label: str) -> str:
    return {
        "评审年度": "year",
        "申报编号": "applicant_id",
        "申报组织/项目": "applicant_name",
        "申报类型": "applicant_kind",
        "评审员编号": "examiner_id",
        "评审员": "examiner_name",
        "评审日期": "date",
        "利益冲突声明": "declaration",
    }[label]


def test_blank_into_a_folder_and_unknown_category(tmp_path):
    result = run("generate", "--blank", "经济类", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    (path,) = written(tmp_path)
    assert path.name == "经济类评分表_空白.xlsx"
    assert meta(path)["award_category"] == "economic"
    bad = run("generate", "--blank", "sport", "--out", tmp_path / "y.xlsx")
    assert bad.exit_code == 2
    assert "sport" in flat(bad.output)
    assert not (tmp_path / "y.xlsx").exists()


def test_generate_without_roster_or_year_is_a_usage_error(tmp_path):
    result = run("generate", "--roster", SAMPLE, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "--year" in result.output
    assert written(tmp_path) == []


def test_helpers_write_the_same_scoresheets_as_one_process(tmp_path, monkeypatch):
    """generate() shares the files with forked helpers (workers=2): every file is the one a single
    process writes for the same roster row, issue ids (made here, in roster order) included."""
    import uuid
    import zipfile
    from datetime import UTC, datetime

    def contents(folder: Path) -> dict[str, object]:
        out: dict[str, object] = {}
        for p in written(folder):
            if p.suffix == ".xlsx":
                with zipfile.ZipFile(p) as z:
                    out[str(p.relative_to(folder))] = {
                        n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"
                    }
            else:
                out[str(p.relative_to(folder))] = p.read_bytes()
        return out

    now = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    runs = {}
    for workers in (1, 2):
        counter = iter(range(1, 10_000))
        monkeypatch.setattr(uuid, "uuid4", lambda c=counter: uuid.UUID(int=next(c)))
        result = generate(SAMPLE, 2027, tmp_path / f"w{workers}", now=now, workers=workers)
        assert not result.problems
        runs[workers] = contents(tmp_path / f"w{workers}")
    assert runs[2] == runs[1]
    assert len(runs[1]) == len(sample_rows()) + 1  # and the manifest
