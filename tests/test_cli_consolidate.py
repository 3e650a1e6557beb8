"""The ``szqa check``, ``szqa consolidate`` and ``szqa demo`` commands."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from szqa_xl.cli import app
from szqa_xl.demo import Score, fill_scoresheet
from szqa_xl.scoresheet.generate import generate, read_manifest
from szqa_xl.standards.load import builtin_standard

YEAR = 2027
runner = CliRunner()


def flat(text: str) -> str:
    """Output without whitespace, so a console's line wrapping cannot split what is searched."""
    return "".join(text.split())


def band_text(band) -> str:
    return f"{band.level} {band.min}～{band.max}%" if band.level else f"{band.min}～{band.max}%"


def full_scores(award: str, base: int) -> dict[str, Score]:
    std = builtin_standard(award)
    out = {}
    for i, u in enumerate(std.units()):
        pct = base + 5 * (i % 3)
        band = next(b for b in std.guide(u.kind).bands if b.min <= pct <= b.max)
        out[u.code] = Score(band_text(band), pct, f"优势 {u.code}", f"改进 {u.code}", f"P{i}")
    return out


def hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict[str, str]]]:
    root = tmp_path_factory.mktemp("cli-consolidate")
    roster = root / "roster.csv"
    roster.write_text(
        "applicant_id,applicant_name,award_category,applicant_kind,examiner_id,examiner_name\n"
        "EC-01,甲公司,economic,organisation,E01,李明\n"
        "EC-01,甲公司,economic,organisation,E02,王芳\n"
        "EC-01,甲公司,economic,organisation,E03,陈强\n",
        encoding="utf-8",
    )
    result = generate(roster, YEAR, root / "sheets")
    assert not result.problems and result.manifest is not None
    return root, result.manifest, read_manifest(result.manifest)


def _fill(issued, examiner: str, dst: Path, scores: dict[str, Score]) -> Path:
    root, manifest, rows = issued
    (row,) = [r for r in rows if r["examiner_id"] == examiner]
    return fill_scoresheet(manifest.parent / row["path"], dst / Path(row["path"]).name, scores)


def _row_of(path: Path, unit: str) -> int:
    ws = load_workbook(path)["评分表"]
    (r,) = [c.row for c in ws["A"] if c.value == unit]
    return r


# -- szqa check -------------------------------------------------------------------------------


def test_check_complete_file_exits_0(issued, tmp_path: Path) -> None:
    f = _fill(issued, "E01", tmp_path, full_scores("economic", 60))
    before = hashes(tmp_path)
    res = runner.invoke(app, ["check", str(f)])
    assert res.exit_code == 0, res.output
    assert "可以提交" in res.output
    assert "EC-01" in res.output and "E01" in res.output
    assert hashes(tmp_path) == before


def test_check_incomplete_file_exits_1_naming_the_cell(issued, tmp_path: Path) -> None:
    scores = full_scores("economic", 60)
    scores["2.2"] = Score(scores["2.2"].band, None)  # band picked, percentage forgotten
    del scores["4.3"]  # left blank
    f = _fill(issued, "E01", tmp_path, scores)
    res = runner.invoke(app, ["check", str(f)])
    assert res.exit_code == 1, res.output
    assert "尚未完成" in res.output
    assert f"评分表!H{_row_of(f, '2.2')}" in flat(res.output)
    assert "4.3" in res.output


def test_check_tampered_file_exits_1_naming_the_cell(issued, tmp_path: Path) -> None:
    f = _fill(issued, "E01", tmp_path, full_scores("economic", 60))
    row = _row_of(f, "3.1")
    wb = load_workbook(f)
    wb["评分表"][f"C{row}"] = 99
    bad = tmp_path / f"篡改_{f.name}"
    wb.save(bad)
    res = runner.invoke(app, ["check", str(bad)])
    assert res.exit_code == 1, res.output
    assert "不能提交" in res.output
    assert f"评分表!C{row}" in flat(res.output)


def test_check_out_of_band_and_wrong_year(issued, tmp_path: Path) -> None:
    scores = full_scores("economic", 60)
    scores["1.1"] = Score(scores["1.1"].band, 95)  # outside its band (50～65%)
    f = _fill(issued, "E01", tmp_path, scores)
    res = runner.invoke(app, ["check", str(f)])
    assert res.exit_code == 1
    assert f"评分表!H{_row_of(f, '1.1')}" in flat(res.output)

    good = _fill(issued, "E02", tmp_path, full_scores("economic", 50))
    res = runner.invoke(app, ["check", str(good), "--year", str(YEAR - 1)])
    assert res.exit_code == 1
    assert str(YEAR) in res.output


def test_check_not_a_scoresheet(tmp_path: Path) -> None:
    f = tmp_path / "scores.xlsx"
    f.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    res = runner.invoke(app, ["check", str(f)])
    assert res.exit_code == 1
    assert "不能提交" in res.output
    assert runner.invoke(app, ["check", str(tmp_path / "nothing.xlsx")]).exit_code == 2


# -- szqa consolidate -------------------------------------------------------------------------


def test_consolidate_all_good_exits_0(issued, tmp_path: Path) -> None:
    _, manifest, _ = issued
    returns = tmp_path / "returns"
    for i, ex in enumerate(("E01", "E02", "E03")):
        _fill(issued, ex, returns, full_scores("economic", 50 + 5 * i))
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["consolidate", str(returns), "-m", str(manifest), "-o", str(out), "--workers", "0"]
    )
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    assert len(lines) == 2 and "3 merged" in lines[0] and "0 rejected" in lines[0]
    assert lines[1].startswith("panel workbooks: ") and "1 applicants" in lines[1], lines[1]
    assert (out / "consolidated.xlsx").exists() and (out / "scores.csv").exists()
    assert len(list((out / "consensus").glob("共识表_*.xlsx"))) == 1, (
        "the panel's consensus workbook beside it"
    )


def test_consolidate_forks_its_readers_and_writers_under_the_progress_bar(
    issued, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The progress bar runs no thread of its own (a child forked beside it could inherit its lock
    held forever), so ``szqa consolidate`` still reads and writes on both cores."""
    import szqa_xl.returns.isolation
    import szqa_xl.xlsx.forking

    seen: list[bool] = []
    real = szqa_xl.xlsx.forking.fork_is_safe_now

    def watched() -> bool:
        seen.append(real())
        return seen[-1]

    monkeypatch.setattr(szqa_xl.xlsx.forking, "fork_is_safe_now", watched)
    monkeypatch.setattr(szqa_xl.returns.isolation, "fork_is_safe_now", watched)
    returns = tmp_path / "returns"
    for i, ex in enumerate(("E01", "E02", "E03")):
        _fill(issued, ex, returns, full_scores("economic", 50 + 5 * i))
    res = runner.invoke(app, ["consolidate", str(returns), "-o", str(tmp_path / "out"), "--workers", "2"])
    assert res.exit_code == 0, res.output
    if szqa_xl.xlsx.forking.can_fork():
        assert len(seen) >= 2 and all(seen), seen  # the readers and the output helpers
    assert (tmp_path / "out" / "consolidated.xlsx").exists()


def test_consolidate_with_rejected_and_missing_exits_1_and_refuses_overwrite(issued, tmp_path: Path) -> None:
    _, manifest, _ = issued
    returns = tmp_path / "returns"
    good = _fill(issued, "E01", returns, full_scores("economic", 60))
    _fill(issued, "E02", returns, full_scores("economic", 55))
    wb = load_workbook(good)  # E03 never returns; a tampered copy of E01's arrives too
    wb["评分表"][f"C{_row_of(good, '1.1')}"] = 50
    wb.save(returns / f"篡改_{good.name}")
    before = hashes(returns)
    out = tmp_path / "out"
    args = ["consolidate", str(returns), "-m", str(manifest), "-o", str(out), "--workers", "0"]

    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    assert len(lines) == 2 and lines[1].startswith("panel workbooks: "), res.stdout
    assert "2 merged" in lines[0] and "1 rejected" in lines[0] and "1 missing" in lines[0]
    assert f"篡改_{good.name}" in res.stderr
    assert hashes(returns) == before
    outputs = hashes(out)
    assert {k for k in outputs if "/" not in k} == {"consolidated.xlsx", "scores.csv"}

    res = runner.invoke(app, args)  # outputs exist: refused, nothing rewritten
    assert res.exit_code == 2
    assert "--force" in res.output
    assert hashes(out) == outputs

    res = runner.invoke(app, [*args, "--force"])
    assert res.exit_code == 1
    assert hashes(out)["scores.csv"] == outputs["scores.csv"]
    assert hashes(returns) == before


def test_consolidate_thresholds_options(issued, tmp_path: Path) -> None:
    _, manifest, _ = issued
    returns = tmp_path / "returns"
    _fill(issued, "E01", returns, full_scores("economic", 50))
    _fill(issued, "E02", returns, full_scores("economic", 70))  # one band higher everywhere
    _fill(issued, "E03", returns, full_scores("economic", 50))
    base = ["consolidate", str(returns), "-m", str(manifest), "--workers", "0"]
    res = runner.invoke(app, [*base, "-o", str(tmp_path / "a")])
    assert res.exit_code == 0 and "0 units flagged" in res.stdout
    res = runner.invoke(app, [*base, "-o", str(tmp_path / "b"), "--bands-apart", "1"])
    assert res.exit_code == 0 and "18 units flagged" in res.stdout


def test_consolidate_missing_folder_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["consolidate", str(tmp_path / "nope"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2


# -- szqa demo --------------------------------------------------------------------------------


def test_demo_produces_consolidated_outputs(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "--out", str(out)])
    assert res.exit_code == 0, res.output
    workbook = out / "3_consolidated" / "consolidated.xlsx"
    scores = out / "3_consolidated" / "scores.csv"
    assert workbook.exists() and scores.exists()
    rows = list(csv.DictReader(io.StringIO(scores.read_text(encoding="utf-8-sig"))))
    assert rows and {"year", "award_category", "applicant_id", "examiner_id", "unit", "pct", "points"} <= set(
        rows[0]
    )

    ws = load_workbook(workbook)["回收情况"]
    header = {c.value: c.column for c in ws[3] if c.value}
    listed = [
        (ws.cell(r, header["状态"]).value, Path(ws.cell(r, header["文件"]).value).name)
        for r in range(4, ws.max_row + 1)
        if ws.cell(r, header["状态"]).value
    ]
    rejected = sorted(name for status, name in listed if status == "拒收")
    missing = [name for status, name in listed if status == "未返回"]
    assert len(rejected) == 2, listed
    assert any(n.startswith("篡改_") for n in rejected)  # tampered
    # wrong year, named after the examiner and the year its metadata holds
    assert any(n.startswith(f"旧表_{YEAR - 1}_经济类_EC-001_E01_李明") for n in rejected)
    assert len(missing) == 1

    again = runner.invoke(app, ["demo", "--out", str(out)])  # not empty: refused
    assert again.exit_code == 2
    shutil.rmtree(out)


def test_outputs_get_the_users_umask(tmp_path, monkeypatch):
    """consolidated.xlsx and scores.csv are made under temporary names by mkstemp (mode 0600) and
    renamed into place: they must end up with the mode any other file of the user gets."""
    import os
    import stat

    from szqa_xl.xlsx.atomic import write_text

    old = os.umask(0o027)
    try:
        write_text(tmp_path / "a.csv", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.csv").stat().st_mode) == 0o640


def test_check_shows_the_award_year_and_warns_when_it_is_not_this_year(issued, tmp_path: Path) -> None:
    import datetime

    good = _fill(issued, "E03", tmp_path, full_scores("economic", 50))
    res = runner.invoke(app, ["check", str(good)])
    out = flat(res.output)
    assert f"评审年度：{YEAR}" in out
    this_year = datetime.date.today().year
    assert ("不是本年度" in out) is (this_year != YEAR)
    if this_year != YEAR:
        assert str(this_year) in out and "--year" in out
    given = runner.invoke(app, ["check", str(good), "--year", str(YEAR)])
    assert "不是本年度" not in flat(given.output)  # the year asked for is the one checked


@pytest.mark.parametrize("content", ["empty", "only-lock-files"])
def test_consolidate_with_no_returns_writes_nothing_and_fails(tmp_path: Path, content: str) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    if content == "only-lock-files":
        (folder / "~$2027_经济类_EC-001_E01_李明.xlsx").write_bytes(b"owner")
    out = tmp_path / "out"
    res = runner.invoke(app, ["consolidate", str(folder), "-o", str(out)])
    assert res.exit_code == 2
    assert "no returns found" in res.output and f"{folder} " in res.output
    assert not out.exists() or not any(out.iterdir())


def test_progress_bar_is_redrawn_ten_times_a_second_and_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file moves the bar, but it is drawn at most every 0.1 s (drawing costs the workers'
    cores) and always on the last file, so it never stops short of the total."""
    import szqa_xl.cli as cli

    clock = iter([0.0, 0.01, 0.02, 0.15, 0.16, 0.17])
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    calls: list[tuple[int, int, bool]] = []

    class Bar:
        def update(self, task, completed, total, refresh):
            assert task == "t"
            calls.append((completed, total, refresh))

    update = cli._progress_callback(Bar(), "t")
    for done in range(1, 7):
        update(done, 6)
    assert calls == [(1, 6, True), (2, 6, False), (3, 6, False), (4, 6, True), (5, 6, False), (6, 6, True)]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX limits on open files")
def test_consolidate_under_too_low_a_limit_on_open_files_says_so_and_writes_nothing(
    issued, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large consolidated workbook keeps a file open per worksheet while it is written; when the
    system's hard limit cannot allow that, the clerk reads why and what to do, and no output (not
    even a panel workbook written alongside) is left half made."""
    import resource

    import szqa_xl.consolidation.report

    returns = tmp_path / "returns"
    for i, ex in enumerate(("E01", "E02", "E03")):
        _fill(issued, ex, returns, full_scores("economic", 50 + 5 * i))
    monkeypatch.setattr(szqa_xl.consolidation.report, "LARGE_SCORE_ROWS", 0)  # written as a large one
    real = resource.getrlimit
    monkeypatch.setattr(
        resource, "getrlimit", lambda what: (24, 24) if what == resource.RLIMIT_NOFILE else real(what)
    )
    out = tmp_path / "out"
    res = runner.invoke(app, ["consolidate", str(returns), "-o", str(out), "--workers", "2"])
    assert res.exit_code == 2, res.output
    text = flat(res.output)
    assert "allows24(`ulimit-Hn`)" in text and "6worksheets" in text and "nothingwaswritten" in text
    assert not out.exists() or list(out.rglob("*")) == []
