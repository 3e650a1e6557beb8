"""The stage commands as a clerk types them: shortlist, final-ranking, archive and archive verify."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from szqa_xl.cli import app

runner = CliRunner()


def test_shortlist_writes_the_next_roster_and_shows_the_cut(demo_year, tmp_path):
    out = tmp_path / "next.csv"
    res = runner.invoke(app, ["shortlist", str(demo_year.results.parent), "--top", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["award_category"], r["stage"]) for r in rows} == {
        ("economic", "现场核查"),
        ("culture", "现场核查"),
    }
    assert len({r["applicant_id"] for r in rows}) == 2
    assert "cut between" in res.stdout
    again = runner.invoke(app, ["shortlist", str(demo_year.results.parent), "--top", "1", "-o", str(out)])
    assert again.exit_code == 2 and "--force" in again.output
    both = runner.invoke(app, ["shortlist", str(demo_year.results.parent), "-o", str(tmp_path / "x.csv")])
    assert both.exit_code == 2


def test_final_ranking_refuses_a_bad_rule_file(demo_year, tmp_path):
    rule = tmp_path / "rule.yaml"
    rule.write_text("rule: weights\nstages: [材料评审, 现场核查]\nweights: {材料评审: 0.5, 现场核查: 0.6}\n")
    res = runner.invoke(
        app, ["final-ranking", str(demo_year.results.parent), "--rule", str(rule), "-o", str(tmp_path / "f")]
    )
    assert res.exit_code == 2 and "sum" in res.output
    rule.write_text("rule: last\nstages: [材料评审, 现场核查]\n")
    res = runner.invoke(
        app,
        ["final-ranking", str(demo_year.results.parent), str(demo_year.stage2 / "4_results"), "--rule", str(rule),
         "-o", str(tmp_path / "f")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "f" / "final.xlsx").exists() and "4 ranked" in res.stdout


def test_archive_verify_names_a_changed_member(demo_year, tmp_path):
    src = demo_year.archive
    res = runner.invoke(app, ["archive", "verify", str(src)])
    assert res.exit_code == 0, res.output
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as zout:
        victim = next(n for n in zin.namelist() if n.endswith("results.csv"))
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == victim:
                data = data[:-2] + bytes([data[-2] ^ 1]) + data[-1:]
            zout.writestr(info, data)
    res = runner.invoke(app, ["archive", "verify", str(bad)])
    assert res.exit_code == 1
    assert f"changed: {victim}" in res.stdout


def test_archive_refuses_to_overwrite(demo_year, tmp_path):
    year = tmp_path / "year"
    shutil.copytree(demo_year.scoresheets, year / "1_scoresheets")
    out = tmp_path / "a.zip"
    assert runner.invoke(app, ["archive", str(year), "-o", str(out)]).exit_code == 0
    res = runner.invoke(app, ["archive", str(year), "-o", str(out)])
    assert res.exit_code == 2 and "--force" in res.output
    assert Path(out).exists()
