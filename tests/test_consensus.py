"""After the consensus meeting, end to end: consolidate → panel workbooks edited as a meeting would (openpyxl,
and one re-saved by LibreOffice) → finalize.  Ranks, subtotals and totals are recomputed here from the
workbooks' cells, independently of the product; every kind of bad workbook is reported with its file and
cell while the others are finalized; a late return never wipes a meeting's work."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import hostile_files as hf
import pytest
import xml_edits as xe
from conftest import recalculating_profile, run_soffice
from openpyxl import load_workbook

from szqa_xl.consensus.build import INDEX_NAME, read_index, write_all, write_panels
from szqa_xl.consensus.finalize import finalize_dir
from szqa_xl.consensus.results import finalize_outputs, rank
from szqa_xl.consolidation.batch import consolidate_dir, write_outputs
from szqa_xl.standards.load import builtin_standard
from szqa_xl.xlsx.plan import column_letter, split_ref


@pytest.fixture(scope="module")
def demo(demo_year):
    return demo_year


@pytest.fixture
def folder(demo, tmp_path: Path) -> Path:
    """A private copy of the demo's panel workbooks, as the meetings left them."""
    dst = tmp_path / "consensus"
    shutil.copytree(demo.panels, dst)
    return dst


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def independent_totals(folder: Path) -> dict[str, tuple[float, dict[str, float], float]]:
    """applicant id -> (total, category subtotals, result-unit points), from the cells as openpyxl reads them
    and the standard's points: consensus % × points / 100."""
    index = read_index(folder)
    out = {}
    for name in index["current"].values():
        entry = index["panels"][name]
        std = builtin_standard(entry["key"][1])
        ws = load_workbook(folder / name)["共识表"]
        cats: dict[str, float] = {}
        result = 0.0
        for u in std.units():
            pct = ws[entry["inputs"][u.code]["pct"].split("!")[1]].value
            pts = u.points * float(pct) / 100
            cats[u.category_code] = cats.get(u.category_code, 0.0) + pts
            result += pts if u.kind == "result" else 0.0
        out[entry["key"][3]] = (sum(cats.values()), cats, result)
    return out


def test_every_panel_finalized_and_every_number_recomputed(demo, folder, tmp_path):
    fin = finalize_dir(folder, year="2027")
    assert [st for _, st, _ in fin.reads] == ["accepted"] * len(fin.reads) and not fin.missing
    want = independent_totals(folder)
    assert {r.applicant_id for r in fin.records} == set(want)
    rows = rank(fin.records)
    for r in rows:
        total, cats, result = want[r.record.applicant_id]
        assert r.total == pytest.approx(total)
        assert r.result_points == pytest.approx(result)
        assert r.categories == pytest.approx(cats)
    for award in {r.record.award_category for r in rows}:
        group = [r for r in rows if r.record.award_category == award]
        ordered = sorted(group, key=lambda r: -want[r.record.applicant_id][0])
        assert [r.rank for r in group] == list(range(1, len(group) + 1)) or len(
            {g.total for g in group}
        ) < len(group)
        assert [r.record.applicant_id for r in group] == [r.record.applicant_id for r in ordered]
    targets = finalize_outputs(fin, tmp_path / "out", reports=False)
    with targets["csv"].open(encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert all(None not in row and None not in row.values() for row in table), "a row short of the header"
    assert {row["applicant_id"]: float(row["consensus_total"]) for row in table} == pytest.approx(
        {k: v[0] for k, v in want.items()}, abs=1e-9
    )
    assert load_workbook(targets["workbook"]).sheetnames[-1] == "共识表读取"


def _entry(folder: Path, applicant: str) -> tuple[Path, dict]:
    index = read_index(folder)
    name = next(n for n in index["current"].values() if index["panels"][n]["key"][3] == applicant)
    return folder / name, index["panels"][name]


def test_bad_workbooks_are_reported_with_file_and_cell_and_the_rest_finalized(folder):
    index = read_index(folder)
    applicants = sorted(e["key"][3] for e in (index["panels"][n] for n in index["current"].values()))
    assert len(applicants) >= 6
    expected: dict[str, tuple[str, str]] = {}

    def edit(applicant: str, change) -> None:
        path, entry = _entry(folder, applicant)
        wb = load_workbook(path)
        cell = change(wb, entry)
        wb.save(path)
        return path.name, cell

    # 1. consensus two bands off the median without a reason
    def no_reason(wb, entry):
        std = builtin_standard(entry["key"][1])
        u = std.units()[0]
        ref = {k: a.split("!")[1] for k, a in entry["inputs"][u.code].items()}
        ws = wb["共识表"]
        ws[ref["pct"]] = 100 if (ws[ref["pct"]].value or 0) < 60 else 0
        ws[ref["reason"]] = None
        return ref["reason"]

    name, cell = edit(applicants[0], no_reason)
    expected[name] = ("no-reason", cell)

    # 2. an off-grid consensus
    def off_grid(wb, entry):
        u = builtin_standard(entry["key"][1]).units()[1]
        ref = entry["inputs"][u.code]["pct"].split("!")[1]
        wb["共识表"][ref] = 42
        return ref

    name, cell = edit(applicants[1], off_grid)
    expected[name] = ("off-grid", cell)

    # 3. a workbook of another consolidation (its metadata names other returns)
    def other(wb, entry):
        ws = wb["_meta"]
        for row in ws.iter_rows():
            if row[0].value == "consolidation_id":
                row[1].value = "0123456789abcdef"
                return row[1].coordinate
        raise AssertionError("no consolidation_id in _meta")

    name, cell = edit(applicants[2], other)
    expected[name] = ("other-consolidation", "")

    # 4. a locked cell changed: an examiner's %
    def locked(wb, entry):
        ref = next(a for a, v in entry["locked"].items() if isinstance(v, (int, float)) and a[0] == "E")
        ws = wb["共识表"]
        ws[ref] = (ws[ref].value + 5) % 100
        return ref

    name, cell = edit(applicants[3], locked)
    expected[name] = ("locked-changed", cell)

    # 5. a panel's workbook missing
    missing_path, _ = _entry(folder, applicants[4])
    missing_path.unlink()

    fin = finalize_dir(folder, year="2027")
    reads = {name: (st, probs) for name, st, probs in fin.reads}
    for name, (code, cell) in expected.items():
        st, probs = reads[name]
        assert st == "rejected", name
        hits = [p for p in probs if p.code == code]
        assert hits, f"{name}: {[str(p) for p in probs]}"
        assert hits[0].file == name
        if cell:
            assert hits[0].cell == cell and hits[0].sheet == "共识表"
    assert [name for _, name in fin.missing] == [missing_path.name]
    good = set(applicants[5:])
    assert {r.applicant_id for r in fin.records} == good, "the other panels are still finalized"


def _edit_panel_sheet(path: Path, edit) -> None:
    """``edit`` applied to the 共识表 part of the panel workbook at ``path``, in place."""
    tmp = path.with_name("tampered.xlsx")
    xe.on_part(lambda p: hf.sheet_part(p, "共识表"), edit)(path, tmp)
    tmp.replace(path)


def _forge_locked_percent(path: Path, entry: dict) -> tuple[str, int]:
    """An examiner's % (a locked value) made a formula behind its own cached value: (cell, forged figure)."""
    ref, value = next(
        (a, v) for a, v in entry["locked"].items() if isinstance(v, (int, float)) and a[0] == "E"
    )
    forged = 99 if value != 99 else 98
    _edit_panel_sheet(path, xe.replace_cell(ref, f'<c r="{ref}"><f>{forged}</f><v>{value}</v></c>'))
    return ref, forged


def _formula_tampers(folder: Path) -> dict[str, tuple[str, str, str]]:
    """Three panel workbooks edited in their XML as no spreadsheet program would let a panel do it
    through the locks, each keeping every cached value the index holds: name -> (code, cell, what the
    cell then holds for a spreadsheet that recalculates)."""
    index = read_index(folder)
    names = sorted(index["current"].values())
    assert len(names) >= 3
    out: dict[str, tuple[str, str, str]] = {}

    def tamper(name: str, edit) -> None:
        _edit_panel_sheet(folder / name, edit)

    # 1. an examiner's % (a locked value) becomes a formula behind its own cached value
    ref, forged = _forge_locked_percent(folder / names[0], index["panels"][names[0]])
    out[names[0]] = ("locked-formula", ref, str(forged))

    # 2. the total (a formula) becomes a constant
    ws = load_workbook(folder / names[1])["共识表"]
    (total,) = (
        c.coordinate
        for row in ws.iter_rows()
        if row[0].value == "总分"
        for c in row
        if isinstance(c.value, str) and c.value.startswith("=")
    )
    tamper(names[1], xe.replace_cell(total, f'<c r="{total}"><v>499</v></c>'))
    out[names[1]] = ("formula-removed", total, "499")

    # 3. an array formula from a locked statistics cell over the unit's consensus % input
    entry = index["panels"][names[2]]
    unit = next(iter(entry["inputs"].values()))
    pct = unit["pct"].split("!")[1]
    row, col = split_ref(pct)
    master = f"{column_letter(col - 1)}{row}"
    tamper(
        names[2],
        xe.replace_cell(
            master, f'<c r="{master}"><f t="array" ref="{master}:{pct}">{{1,100}}</f><v>1</v></c>'
        ),
    )
    out[names[2]] = ("formula-input", pct, "100")
    return out


def test_formulas_added_or_removed_behind_the_locks_are_refused_with_their_cell(folder):
    tampered = _formula_tampers(folder)
    fin = finalize_dir(folder, year="2027")
    reads = {name: (st, probs) for name, st, probs in fin.reads}
    for name, (code, cell, _shown) in tampered.items():
        st, probs = reads[name]
        assert st == "rejected", f"{name}: {[str(p) for p in probs]}"
        hits = [p for p in probs if p.code == code and p.cell == cell]
        assert hits and hits[0].file == name and hits[0].sheet == "共识表", [str(p) for p in probs]
    others = set(read_index(folder)["current"].values()) - set(tampered)
    assert {r.source_file for r in fin.records} == others, "the other panels are still finalized"


def test_an_index_from_before_formulas_were_recorded_still_finalizes_and_checks_the_locked_cells(folder):
    """A secretariat that upgrades mid-year finalizes panel workbooks built by the version before, whose
    index has no ``formulas``: the untouched workbooks are finalized as before, and a formula behind a
    locked cell's cached value is still refused."""
    index_path = folder / INDEX_NAME
    head, *lines = index_path.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    assert all("formulas" in e for e in entries), "the index records the formulas as built"
    for e in entries:
        del e["formulas"]
    index_path.write_text(
        "\n".join([head, *(json.dumps(e, ensure_ascii=False) for e in entries)]) + "\n", encoding="utf-8"
    )
    name = sorted(read_index(folder)["current"].values())[0]
    ref, _ = _forge_locked_percent(folder / name, read_index(folder)["panels"][name])
    fin = finalize_dir(folder, year="2027")
    reads = {n: (st, probs) for n, st, probs in fin.reads}
    st, probs = reads[name]
    assert st == "rejected" and [(p.code, p.cell) for p in probs] == [("locked-formula", ref)], probs
    others = set(read_index(folder)["current"].values()) - {name}
    assert {r.source_file for r in fin.records} == others


@pytest.mark.libreoffice
def test_the_formula_tampers_change_what_a_recalculating_spreadsheet_shows(folder, require_soffice, tmp_path):
    """What the refusals above guard: LibreOffice, recalculating on load as Excel does, shows the forged
    figure where the index holds another (so a check of cached values alone cannot see it)."""
    tampered = _formula_tampers(folder)
    index = read_index(folder)
    profile = recalculating_profile(tmp_path / "profile")
    outdir = tmp_path / "lo"
    outdir.mkdir()
    proc = run_soffice(require_soffice, [folder / n for n in tampered], "xlsx", outdir, profile)
    assert proc.returncode == 0, proc.stderr
    shown = [outdir / n for n in tampered]
    for name, out in zip(tampered, shown, strict=True):
        code, cell, forged = tampered[name]
        value = load_workbook(out, data_only=True)["共识表"][cell].value
        assert value is not None and float(value) == float(forged), (name, cell, value)
        entry = index["panels"][name]
        built = entry["locked"].get(cell, entry["prefilled"].get(cell))
        assert built is None or float(built) != float(forged), (name, cell, built)


@pytest.mark.libreoffice
def test_a_workbook_re_saved_by_libreoffice_is_accepted_and_its_totals_follow_the_edits(
    folder, lo_convert, tmp_path
):
    path, entry = _entry(
        folder, read_index(folder)["panels"][next(iter(read_index(folder)["current"].values()))]["key"][3]
    )
    std = builtin_standard(entry["key"][1])
    wb = load_workbook(path)
    ws = wb["共识表"]
    u = std.units()[-1]
    ref = {k: a.split("!")[1] for k, a in entry["inputs"][u.code].items()}
    ws[ref["pct"]] = 100
    ws[ref["reason"]] = "评审组一致认为该条目表现卓越。"
    wb.save(path)
    (resaved,) = lo_convert([path], "xlsx", tmp_path / "lo")
    shutil.copy(resaved, path)
    values = load_workbook(path, data_only=True)["共识表"]
    total_cell = next(c for row in values.iter_rows() for c in row if c.value == "总分")
    score_col = entry["inputs"][u.code]["pct"].split("!")[1].rstrip("0123456789")
    from openpyxl.utils import column_index_from_string, get_column_letter

    score_letter = get_column_letter(column_index_from_string(score_col) + 2)
    want = independent_totals(folder)[entry["key"][3]][0]
    assert values[f"{score_letter}{total_cell.row}"].value == pytest.approx(want), "LibreOffice's total"
    fin = finalize_dir(folder, year="2027")
    reads = {name: st for name, st, _ in fin.reads}
    assert reads[path.name] == "accepted"
    rec = next(r for r in fin.records if r.applicant_id == entry["key"][3])
    assert rec.units[u.code].pct == 100 and rec.total(std) == pytest.approx(want)


def test_a_late_return_never_wipes_a_meetings_work(demo, tmp_path):
    """Re-consolidating with one return fewer (or a late one): the edited panel workbook is kept byte for byte,
    the updated statistics are written beside it with the panel's decisions carried over, the panel is reported
    as affected; panels no return changed are kept as they are."""
    out = tmp_path / "out"
    shutil.copytree(demo.output, out)
    folder = out / "consensus"
    before = {p.name: sha(p) for p in folder.glob("*.xlsx")}
    returns = tmp_path / "returns"
    shutil.copytree(demo.returns, returns)
    index = read_index(folder)
    name = sorted(index["current"].values())[0]
    entry = index["panels"][name]
    # the "late" change: one of the applicant's merged returns taken away
    victim = next(
        p
        for p in returns.glob("*.xlsx")
        if entry["key"][3] in p.name and not p.name.startswith(("篡改", "旧表"))
    )
    victim.unlink()
    cons = consolidate_dir(returns, year=2027)
    run = write_panels(cons, out)
    after = {p.name: sha(p) for p in folder.glob("*.xlsx")}
    for n, digest in before.items():
        assert after[n] == digest, f"{n} was overwritten"
    affected = run.affected()
    assert [o.path.name for o in affected] == [name]
    updated = affected[0].updated
    assert updated is not None and updated.exists() and updated.name.endswith("_更新统计.xlsx")
    old = load_workbook(folder / name)["共识表"]
    new = load_workbook(updated)["共识表"]
    new_entry = read_index(folder)["panels"][updated.name]
    for code, fields in entry["inputs"].items():
        for field, addr in fields.items():
            assert new[new_entry["inputs"][code][field].split("!")[1]].value == old[addr.split("!")[1]].value
    assert read_index(folder)["current"]["|".join(entry["key"])] == updated.name
    # the index still holds, unchanged, the entry of every workbook kept (finalize checks them against it)
    again = read_index(folder)["panels"]
    assert set(again) == set(index["panels"]) | {updated.name}
    assert {n: again[n] for n in index["panels"]} == index["panels"]
    assert {o.action for o in run.outcomes if o.path.name != name} == {"kept-edited"}


def test_panel_agreement_on_the_overview_and_the_examiners_sheet(demo):
    """Each applicant's ICC(2,1) on 总览 is the one of its examiners' % in scores.csv (units × examiners), with
    the Koo & Li reading; the 评审员 sheet has a row per award category."""
    import pandas as pd

    from szqa_xl.consolidation.agreement import agreement, koo_li

    tidy = pd.read_csv(demo.csv, dtype={"year": str, "unit": str})
    wb = load_workbook(demo.workbook)
    ws = wb["总览"]
    header = {c.value: c.column for c in ws[3] if c.value}
    seen = 0
    for r in range(4, ws.max_row + 1):
        aid = ws.cell(r, header["申报编号"]).value
        if not aid:
            continue
        g = tidy[tidy["applicant_id"] == aid].pivot(index="unit", columns="examiner_id", values="pct")
        want = agreement(g.to_numpy(dtype=float)).icc21.value
        got = ws.cell(r, header["ICC(2,1)"]).value
        assert got == pytest.approx(want), aid
        assert ws.cell(r, header["一致性"]).value == koo_li(want)[1]
        seen += 1
    assert seen == tidy["applicant_id"].nunique()
    texts = [c.value for row in wb["评审员"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any("Krippendorff" in t for t in texts)
    assert {"经济类", "文化类"} <= set(texts)


def _examiners_texts(returns: Path, merged: set[str]) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """(applicant id, unit) -> (examiner id, strengths, OFI) of every merged return, read with openpyxl:
    the addresses from each file's own metadata sheet, the texts from its scoring sheet."""
    out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for path in sorted(returns.rglob("*.xlsx")):
        if path.relative_to(returns).as_posix() not in merged:
            continue
        wb = load_workbook(path, read_only=True)
        rows = [[c for c in row] for row in wb["_meta"].iter_rows(values_only=True)]
        at = next(i for i, row in enumerate(rows) if row[0] == "unit")
        meta = {row[0]: row[1] for row in rows[:at] if row[0]}
        header = list(rows[at])
        scores = {
            (c.coordinate): c.value
            for row in wb["评分表"].iter_rows()
            for c in row
            if hasattr(c, "coordinate")
        }
        for row in rows[at + 1 :]:
            if not row[0]:
                continue
            addr = dict(zip(header, row, strict=False))
            texts = [scores.get(str(addr[k]).split("!")[1]) or "" for k in ("strengths", "ofi")]
            if any(texts):
                out.setdefault((meta["applicant_id"], str(row[0])), []).append((meta["examiner_id"], *texts))
        wb.close()
    return out


def _marked(entries: list[tuple[str, str]]) -> str | None:
    lines = [
        f"[{e}] {line.strip()}" for e, text in sorted(entries) for line in text.splitlines() if line.strip()
    ]
    return "\n".join(lines) or None


@pytest.mark.parametrize("workers", [1, 2])
def test_panel_workbooks_carry_every_examiners_comments_marked(demo, tmp_path, workers):
    """共识优势 / 共识改进机会 of every unit of every panel workbook come pre-filled with what each
    examiner of a merged return wrote there, each line marked with its examiner, and nothing else
    (the texts are kept out of memory until each workbook is written, in this process or a helper)."""
    cons = consolidate_dir(demo.returns, year=2027)
    merged = {r.file for r in cons.returns if r.status in ("accepted", "incomplete")}
    want = _examiners_texts(demo.returns, merged)
    assert want, "the demo's returns have comments"
    run = write_panels(cons, tmp_path, workers=workers)
    index = read_index(run.folder)
    checked = 0
    for name in index["current"].values():
        entry = index["panels"][name]
        ws = load_workbook(run.folder / name)["共识表"]
        for u in builtin_standard(entry["key"][1]).units():
            entries = want.get((entry["key"][3], u.code), [])
            for field, k in (("strengths", 1), ("ofi", 2)):
                got = ws[entry["inputs"][u.code][field].split("!")[1]].value
                assert got == _marked([(e[0], e[k]) for e in entries]), (name, u.code, field)
                checked += got is not None
    assert checked > 10


def test_written_side_by_side_as_one_by_one(demo, tmp_path):
    """write_all (the consolidated workbook here; scores.csv and the panel workbooks in a forked helper,
    then here too) writes exactly what write_outputs and then write_panels write; with outputs already
    there it refuses before writing anything."""
    cons = consolidate_dir(demo.returns, year=2027)
    one = tmp_path / "one"
    write_outputs(cons, one, workers=1)
    write_panels(cons, one, workers=1)
    both = tmp_path / "both"
    paths, run = write_all(cons, both, workers=2)
    assert paths["workbook"] == both / "consolidated.xlsx" and run.folder == both / "consensus"

    def contents(root: Path) -> dict[str, object]:
        out: dict[str, object] = {}
        for p in sorted(root.rglob("*")):
            if p.suffix == ".xlsx":  # docProps/core.xml holds the time of writing
                with zipfile.ZipFile(p) as z:
                    out[str(p.relative_to(root))] = {
                        n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"
                    }
            elif p.is_file():
                out[str(p.relative_to(root))] = p.read_bytes()
        return out

    def index_without_digests(root: Path) -> dict:
        index = read_index(root / "consensus")
        for name, entry in index["panels"].items():  # each digest is of its own file (core.xml holds a time)
            assert entry.pop("sha256") == hashlib.sha256((root / "consensus" / name).read_bytes()).hexdigest()
        return index

    written = contents(both)
    assert index_without_digests(both) == index_without_digests(one)
    # JSON Lines: a head, then one entry per workbook, each once, whichever process wrote it
    lines = (both / "consensus" / INDEX_NAME).read_bytes().splitlines()
    assert len(lines) == 1 + len(cons.applicants) == 1 + len(read_index(both / "consensus")["panels"])
    del written[f"consensus/{INDEX_NAME}"]
    assert written == {k: v for k, v in contents(one).items() if k != f"consensus/{INDEX_NAME}"}
    assert sum(name.startswith("consensus/共识表_") for name in written) == len(cons.applicants)
    before = {p: p.read_bytes() for p in both.rglob("*") if p.is_file()}
    with pytest.raises(FileExistsError):
        write_all(cons, both)
    assert {p: p.read_bytes() for p in both.rglob("*") if p.is_file()} == before


def test_only_workbooks_changed_since_they_were_written_are_read_again(demo, tmp_path, monkeypatch):
    """A re-run reads back only the panel workbooks whose bytes changed since they were written (their
    SHA-256 is in the index): one opened and saved without a change is read and, untouched, rewritten;
    one whose panel typed a reason is read and kept; the others are not opened at all."""
    import szqa_xl.consensus.finalize as finalize

    cons = consolidate_dir(demo.returns, year=2027)
    out = tmp_path / "out"
    run = write_panels(cons, out, workers=1)
    index = read_index(run.folder)
    names = sorted(index["current"].values())
    resaved, edited = run.folder / names[0], run.folder / names[1]
    load_workbook(resaved).save(resaved)
    entry = index["panels"][edited.name]
    code = next(iter(entry["inputs"]))
    sheet, ref = entry["inputs"][code]["reason"].split("!")
    wb = load_workbook(edited)
    wb[sheet][ref] = "组内讨论后一致认为证据不足"
    wb.save(edited)
    edited_bytes = edited.read_bytes()
    opened: list[str] = []
    real = finalize.read_panels

    def recording(paths, workers=2):
        opened.extend(p.name for p in paths)
        return real(paths, workers=workers)

    monkeypatch.setattr(finalize, "read_panels", recording)
    again = write_panels(cons, out, workers=1)
    assert sorted(opened) == sorted([resaved.name, edited.name])
    actions = {o.path.name: o.action for o in again.outcomes}
    assert actions[edited.name] == "kept-edited" and edited.read_bytes() == edited_bytes
    assert actions[resaved.name] == "written"
    assert {a for n, a in actions.items() if n != edited.name} == {"written"}
    rewritten = read_index(run.folder)["panels"][resaved.name]
    assert rewritten["sha256"] == hashlib.sha256(resaved.read_bytes()).hexdigest()
