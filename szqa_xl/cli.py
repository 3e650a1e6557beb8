"""The ``szqa`` command line: parse, call one library function, report."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from szqa_xl.returns import DEFAULT_TIME_LIMIT
from szqa_xl.standards import load as stdlib
from szqa_xl.standards.diff import diff_standards
from szqa_xl.standards.models import KIND_ZH

app = typer.Typer(
    help="Scoresheets and consolidation for the Shenzhen Mayor's Quality Award (深圳市市长质量奖).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _openpyxl_protected() -> None:
    """Exit 3 with the reason when openpyxl would parse XML unprotected (before a command that lets it
    read a workbook: the demo, the archive).  No other command uses openpyxl, so none pays its import."""
    from szqa_xl.safety import check_environment

    try:
        check_environment()
    except RuntimeError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(3) from None


standards_app = typer.Typer(help="The six award standards as data.", no_args_is_help=True)
app.add_typer(standards_app, name="standards")

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _load(ref: str):
    try:
        return stdlib.resolve_standard(ref)
    except stdlib.StandardError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except KeyError as exc:
        err.print(f"[red]error:[/red] {exc.args[0]}")
        raise typer.Exit(2) from None


@standards_app.command("list")
def standards_list() -> None:
    """List the built-in standards.

    Example: szqa standards list
    """
    table = Table(title="深圳市市长质量奖评定标准")
    for col in ("id", "奖项类别", "评分单元", "总分", "版本", "指纹"):
        table.add_column(col)
    for std in stdlib.builtin_standards():
        units = std.units()
        table.add_row(
            std.id,
            std.name_zh,
            str(len(units)),
            str(sum(u.points for u in units)),
            std.edition,
            stdlib.fingerprint(std)[:12],
        )
    console.print(table)


@standards_app.command("show")
def standards_show(
    ref: str = typer.Argument(..., help="award id (economic…), 经济类, or a YAML path"),
) -> None:
    """Show the outline of one standard: codes, names, points, kind.

    Example: szqa standards show culture
    """
    std = _load(ref)
    console.print(f"{std.title}  ·  {std.edition}  ·  {stdlib.fingerprint(std)[:12]}")
    table = Table()
    for col in ("编号", "名称", "分值", "类型"):
        table.add_column(col)
    for cat in std.categories:
        name = f"{cat.name}（{cat.detail_name}）" if cat.detail_name else cat.name
        table.add_row(f"[bold]{cat.code}[/bold]", f"[bold]{name}[/bold]", str(cat.points), "")
        for item in cat.items:
            kind = KIND_ZH[item.kind] if item.kind else ""
            table.add_row(item.code, "  " + item.name, str(item.points), kind)
            for sub in item.sub_items:
                table.add_row(sub.code, "    " + sub.name, str(sub.points), KIND_ZH[sub.kind])
    console.print(table)
    console.print(f"评分单元 {len(std.units())} 个，合计 {sum(u.points for u in std.units())} 分")


@standards_app.command("diff")
def standards_diff(
    old: Path = typer.Argument(..., help="the edition in use (YAML)"),
    new: Path = typer.Argument(..., help="the new edition (YAML)"),
) -> None:
    """Units added or removed, points changed, text changed between two editions.

    Exit code 0 when identical, 1 when they differ, 2 when a file is invalid.

    Example: szqa standards diff standards/culture.yaml culture-2028.yaml
    """
    a, b = _load(str(old)), _load(str(new))
    changes = diff_standards(a, b)
    for change in changes:
        print(change.describe())
    console.print(f"{len(changes)} change(s)" if changes else "no changes")
    raise typer.Exit(1 if changes else 0)


@standards_app.command("schema")
def standards_schema(
    out: Path | None = typer.Option(None, "--out", "-o", help="write to this file instead of stdout"),
) -> None:
    """Print (or write) the JSON Schema of a standard file.

    Example: szqa standards schema -o standards/schema.json
    """
    text = stdlib.schema_json()
    if out is None:
        print(text, end="")
    else:
        from szqa_xl.xlsx.atomic import write_text

        write_text(out, text)
        console.print(f"wrote {out}")


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        auto_refresh=False,  # no refresh thread: readers and writers are forked, safely, from one thread
    )


REFRESH_SECONDS = 0.1
"""How often the progress bar is redrawn at most (as rich's own refresh thread would, 10 times a second)."""


def _progress_callback(bar, task) -> Callable[[int, int], None]:
    """``progress(done, total)`` for the library: the bar redrawn when it is due and at the end.

    Drawing it on a terminal costs ~0.5 ms; once per file it took a quarter of a core from
    the workers at 1,000 files.
    """
    last = -REFRESH_SECONDS

    def update(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        due = done >= total or now - last >= REFRESH_SECONDS
        if due:
            last = now
        bar.update(task, completed=done, total=total, refresh=due)

    return update


@app.command("generate")
def generate_cmd(
    roster: Path | None = typer.Option(None, "--roster", "-r", help="roster CSV or xlsx"),
    year: int | None = typer.Option(None, "--year", "-y", help="award year, e.g. 2027"),
    stage: str = typer.Option("材料评审", "--stage", help="stage label when the roster has none"),
    out: Path = typer.Option(Path("scoresheets"), "--out", "-o", help="output folder"),
    blank: str | None = typer.Option(None, "--blank", help="write one blank template of this award category"),
    previous: Path | None = typer.Option(
        None,
        "--previous",
        help="results folder (or consensus_units.csv) of the previous stage: its consensus seeds the scoresheets",
    ),
    workers: int = typer.Option(2, help="processes that write the scoresheets (1: this process only)"),
) -> None:
    """Generate personalised scoresheets from a roster, or a blank template.

    Examples:
      szqa generate --roster roster.csv --year 2027 --out scoresheets
      szqa generate --blank culture --out 文化类空白评分表.xlsx
      szqa generate --roster 现场核查名单.csv --year 2027 --stage 现场核查 --previous results/ --out 现场核查评分表
    """
    from szqa_xl.scoresheet.generate import generate, generate_blank
    from szqa_xl.stages.previous import read_previous

    if blank:
        try:
            std = stdlib.resolve_standard(blank)
        except (KeyError, stdlib.StandardError) as exc:
            err.print(f"[red]error:[/red] {exc.args[0] if isinstance(exc, KeyError) else exc}")
            raise typer.Exit(2) from None
        target = out if out.suffix.lower() == ".xlsx" else out / f"{std.name_zh}评分表_空白.xlsx"
        generate_blank(std.id, target)
        console.print(f"wrote {target}")
        return
    if roster is None or year is None:
        err.print("[red]error:[/red] give --roster and --year (or --blank CATEGORY)")
        raise typer.Exit(2)
    seeds = None
    if previous is not None:
        try:
            seeds = read_previous(previous)
        except (OSError, KeyError, ValueError) as exc:
            err.print(f"[red]error:[/red] cannot read the previous stage's consensus from {previous}: {exc}")
            raise typer.Exit(2) from None
    with _progress() as bar:
        task = bar.add_task("generating", total=None)
        result = generate(
            roster,
            year,
            out,
            stage=stage,
            progress=_progress_callback(bar, task),
            previous=seeds,
            workers=workers,
        )
    if result.problems:
        for p in result.problems:
            err.print(f"roster: {p.file}: [{p.code}] {p.message}", markup=False, soft_wrap=True)
        err.print(f"{len(result.problems)} problem(s) in the roster; nothing was written")
        raise typer.Exit(1)
    console.print(f"{len(result.files)} scoresheets written under {out}; manifest: {result.manifest}")


@app.command("check")
def check_cmd(
    file: Path = typer.Argument(..., help="a filled scoresheet (.xlsx)"),
    year: int | None = typer.Option(None, "--year", help="the award year it must belong to"),
    time_limit: float = typer.Option(
        DEFAULT_TIME_LIMIT, "--time-limit", help="seconds the file's read may take before it is rejected"
    ),
) -> None:
    """Check a filled scoresheet before sending it (exit 0 = can be sent, 1 = problems).

    Example: szqa check 2027_经济类_EC-001_E01_李明.xlsx
    """
    from szqa_xl.consolidation.batch import read_all
    from szqa_xl.returns.reader import check_issue

    if not file.is_file():
        err.print(f"[red]error:[/red] no such file: {file}")
        raise typer.Exit(2)
    (rf,) = read_all([file], workers=1, time_limit=time_limit)
    check_issue(rf, None if year is None else str(year))
    verdict = {
        "accepted": "[green]可以提交[/green]：全部条目已评分且一致，声明已签署。",
        "incomplete": "[yellow]尚未完成[/yellow]：文件有效，但还有未完成的条目或声明。",
        "rejected": "[red]不能提交[/red]：文件存在以下问题。",
    }[rf.status]
    m = rf.meta
    if m.get("award_category"):
        console.print(f"[bold]评审年度：{m.get('year') or '（未填写）'}[/bold]")
        console.print(
            f"{rf.name}: {m.get('year')} {m.get('award_name', '')} {m.get('applicant_id')} "
            f"{m.get('applicant_name')} · 评审员 {m.get('examiner_id')} {m.get('examiner_name')}"
        )
        this_year = str(datetime.date.today().year)
        if year is None and m.get("year") and m.get("year") != this_year:
            console.print(
                f"[yellow]注意：此评分表的评审年度是 {m.get('year')}，不是本年度 {this_year}。"
                "如确为该年度的评审，请忽略；否则请使用本年度下发的评分表（或用 --year 指定年度检查）。[/yellow]",
                soft_wrap=True,
            )
    console.print(verdict)
    for p in rf.problems:
        loc = f"{p.sheet}!{p.cell} " if p.sheet and p.cell else (f"{p.sheet} " if p.sheet else "")
        console.print(f"  - {loc}{p.message}", markup=False, soft_wrap=True)
    raise typer.Exit(0 if rf.status == "accepted" else 1)


@app.command("consolidate")
def consolidate_cmd(
    returns_dir: Path = typer.Argument(..., help="folder of returned scoresheets (searched recursively)"),
    out: Path = typer.Option(..., "--out", "-o", help="output folder for consolidated.xlsx and scores.csv"),
    manifest: Path | None = typer.Option(None, "--manifest", "-m", help="manifest.csv written by generate"),
    year: int | None = typer.Option(
        None, "--year", help="award year (default: from the manifest or the files)"
    ),
    bands_apart: int = typer.Option(2, help="flag a unit when examiners are this many bands apart"),
    range_points: float = typer.Option(
        25.0, help="flag a unit when the score range reaches this many points"
    ),
    workers: int = typer.Option(
        2,
        help="processes that read the returns and write the outputs (0: write in this process; "
        "returns are always read in at least one isolated worker)",
    ),
    time_limit: float = typer.Option(
        DEFAULT_TIME_LIMIT, "--time-limit", help="seconds one file's read may take before it is rejected"
    ),
    force: bool = typer.Option(False, "--force", help="overwrite existing outputs"),
) -> None:
    """Merge returned scoresheets into consolidated.xlsx and scores.csv.

    Exit code 0 when every file was merged, 1 when some were rejected, duplicate or missing.

    Example: szqa consolidate returns/ --manifest scoresheets/manifest.csv -o consolidated/
    """
    from szqa_xl.consolidation.batch import consolidate_dir
    from szqa_xl.consolidation.core import Thresholds

    if not returns_dir.is_dir():
        err.print(f"[red]error:[/red] no such folder: {returns_dir}")
        raise typer.Exit(2)
    targets = [out / "consolidated.xlsx", out / "scores.csv"]
    if not force and any(t.exists() for t in targets):
        err.print(f"[red]error:[/red] {out} already holds outputs; use --force to overwrite")
        raise typer.Exit(2)
    with _progress() as bar:
        task = bar.add_task("reading returns", total=None)
        cons = consolidate_dir(
            returns_dir,
            manifest=manifest,
            year=year,
            thresholds=Thresholds(bands_apart, range_points),
            workers=workers,
            progress=_progress_callback(bar, task),
            time_limit=time_limit,
        )
    if not any(r.status in ("accepted", "incomplete", "rejected", "duplicate") for r in cons.returns):
        err.print(
            f"[red]error:[/red] no returns found in {returns_dir} (no .xlsx/.xlsm file besides lock files); "
            "nothing was written",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    from szqa_xl.consensus.build import write_all
    from szqa_xl.xlsx.writer import OpenFilesLimit

    try:
        paths, panels = write_all(cons, out, force=force, workers=workers)
    except OpenFilesLimit as exc:
        err.print(f"[red]error:[/red] {exc}; nothing was written", soft_wrap=True)
        raise typer.Exit(2) from None
    for rec in cons.returns:
        if rec.status in ("rejected", "duplicate"):
            err.print(
                f"{rec.status}: {rec.file}: {rec.reasons.splitlines()[0] if rec.reasons else ''}",
                markup=False,
            )
    print(f"{cons.summary()} → {paths['workbook']}")
    _report_panels(panels)
    c = cons.counts()
    raise typer.Exit(1 if c["rejected"] or c["duplicate"] or c["missing"] else 0)


def _report_panels(panels) -> None:
    kept = [o for o in panels.outcomes if o.action != "written"]
    print(
        f"panel workbooks: {panels.folder}  ({len(panels.outcomes)} applicants; "
        f"{len(kept)} edited by their panels and kept as they are)"
    )
    for o in panels.affected():
        where = f"; updated statistics beside it: {o.updated.name}" if o.updated else ""
        print(f"  affected by changed returns: {o.path.name}{where}")


@app.command("finalize")
def finalize_cmd(
    consensus_dir: Path = typer.Argument(
        ..., help="folder of the panels' consensus workbooks (with 共识索引.jsonl)"
    ),
    out: Path = typer.Option(..., "--out", "-o", help="output folder for results and feedback reports"),
    year: int | None = typer.Option(None, "--year", help="award year the workbooks must be for"),
    reason_bands: int = typer.Option(
        1, help="a 共识理由 is required where the consensus is this many bands or more from the median"
    ),
    with_examiners: bool = typer.Option(False, "--with-examiners", help="name the panel in feedback reports"),
    pdf: bool = typer.Option(
        True, "--pdf/--no-pdf", help="also render the reports to PDF (needs LibreOffice)"
    ),
    workers: int = typer.Option(2, help="processes that read the workbooks"),
    force: bool = typer.Option(False, "--force", help="overwrite existing results"),
) -> None:
    """Read the panels' consensus workbooks back: results.xlsx, results.csv, a feedback report per applicant.

    Exit code 0 when every panel was finalized, 1 when some were rejected or missing, 2 on a usage error.

    Example: szqa finalize consolidated/consensus -o results/
    """
    from szqa_xl.consensus.finalize import finalize_dir
    from szqa_xl.consensus.results import finalize_outputs

    if not consensus_dir.is_dir():
        err.print(f"[red]error:[/red] no such folder: {consensus_dir}")
        raise typer.Exit(2)
    fin = finalize_dir(consensus_dir, year=None if year is None else str(year), reason_bands=reason_bands,
                       workers=workers)  # fmt: skip
    if not fin.records and any(p.code == "no-index" for p in fin.problems):
        err.print(f"[red]error:[/red] {fin.problems[0].message}", soft_wrap=True)
        raise typer.Exit(2)
    try:
        targets = finalize_outputs(fin, out, force=force, with_examiners=with_examiners, pdf=pdf)
    except FileExistsError:
        err.print(f"[red]error:[/red] {out} already holds results; use --force to overwrite")
        raise typer.Exit(2) from None
    bad = [(name, st, probs) for name, st, probs in fin.reads if st != "accepted"]
    for _name, st, probs in bad:
        for p in probs[:5]:
            err.print(f"{st}: {p}", markup=False, soft_wrap=True)
    for key, name in fin.missing:
        err.print(f"missing: {name} ({key})", markup=False)
    print(f"{len(fin.records)} finalized, {len(bad)} rejected, {len(fin.missing)} missing")
    print(f"results:  {targets['workbook']}  ({targets['csv'].name} beside it)")
    if "feedback" in targets:
        print(f"feedback: {targets['feedback']}  (one report per applicant)")
    else:
        print("feedback: not written — python-docx (which needs lxml) is not installed")
    raise typer.Exit(1 if bad or fin.missing else 0)


@app.command("shortlist")
def shortlist_cmd(
    results: Path = typer.Argument(
        ..., help="a stage's results folder (or its results.csv) from szqa finalize"
    ),
    out: Path = typer.Option(..., "--out", "-o", help="the next stage's roster (CSV) to write"),
    stage: str = typer.Option("现场核查", "--stage", help="the next stage"),
    top: int | None = typer.Option(None, "--top", help="the top N of each award category go on"),
    min_score: float | None = typer.Option(
        None, "--min-score", help="every applicant with at least this total"
    ),
    roster: Path | None = typer.Option(
        None, "--roster", help="examiners for the next stage (default: the same panels)"
    ),
    force: bool = typer.Option(False, "--force", help="overwrite an existing roster"),
) -> None:
    """The next stage's roster from a stage's results: who goes on, and where the cut falls.

    Example: szqa shortlist results/ --top 3 --stage 现场核查 -o 现场核查名单.csv
    """
    from szqa_xl.stages.shortlist import next_roster, shortlist
    from szqa_xl.xlsx.atomic import write_text

    if (top is None) == (min_score is None):
        err.print("[red]error:[/red] give --top N or --min-score S")
        raise typer.Exit(2)
    if out.exists() and not force:
        err.print(f"[red]error:[/red] {out} exists; use --force to overwrite")
        raise typer.Exit(2)
    try:
        sl = shortlist(results, top=top, min_score=min_score)
    except (OSError, KeyError, ValueError) as exc:
        err.print(f"[red]error:[/red] cannot read results from {results}: {exc}")
        raise typer.Exit(2) from None
    text, problems = next_roster(sl, stage, roster)
    for p in problems:
        err.print(f"{p.file}: [{p.code}] {p.message}", markup=False)
    if problems:
        err.print("nothing was written")
        raise typer.Exit(1)
    write_text(out, text, encoding="utf-8-sig")
    for award in dict.fromkeys(c.award_category for c in sl.candidates):
        inside, outside = sl.cut(award)
        chosen = [c for c in sl.chosen if c.award_category == award]
        names = "、".join(f"{c.rank}. {c.applicant_id} {c.applicant_name} {c.total:.1f}" for c in chosen)
        cut = (
            f"; cut between {inside:.1f} and {outside:.1f}"
            if inside is not None and outside is not None
            else ""
        )
        print(f"{award}: {len(chosen)} go on ({sl.rule}){cut}: {names}")
    print(f"roster for {stage}: {out}")


@app.command("final-ranking")
def final_ranking_cmd(
    results: list[Path] = typer.Argument(..., help="the results folders (or results.csv) of every stage"),
    rule: Path = typer.Option(..., "--rule", help="YAML: rule (weights|last), stages, weights"),
    out: Path = typer.Option(..., "--out", "-o", help="output folder for final.xlsx and final.csv"),
    force: bool = typer.Option(False, "--force", help="overwrite existing outputs"),
) -> None:
    """The final ranking across stages by a rule file, each stage's total beside the final score.

    Example: szqa final-ranking 4_results 8_results --rule ranking.yaml -o final/
    """
    from pydantic import ValidationError

    from szqa_xl.stages.final import final_csv, final_ranking, load_rule, plan_final
    from szqa_xl.xlsx.atomic import atomic_path, write_text
    from szqa_xl.xlsx.writer import write

    try:
        ranking_rule = load_rule(rule)
    except (OSError, ValidationError, ValueError) as exc:
        err.print(f"[red]error:[/red] {rule}: {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    targets = [out / "final.xlsx", out / "final.csv"]
    if any(t.exists() for t in targets) and not force:
        err.print(f"[red]error:[/red] {out} already holds a final ranking; use --force to overwrite")
        raise typer.Exit(2)
    rows = final_ranking(list(results), ranking_rule)
    out.mkdir(parents=True, exist_ok=True)
    write_text(targets[1], final_csv(rows, ranking_rule), encoding="utf-8-sig")
    with atomic_path(targets[0]) as tmp:
        write(plan_final(rows, ranking_rule), tmp)
    ranked = [r for r in rows if r.rank is not None]
    print(
        f"{len(ranked)} ranked, {len(rows) - len(ranked)} listed unranked ({ranking_rule.describe()}) → {targets[0]}"
    )


@app.command("archive")
def archive_cmd(
    what: str = typer.Argument(..., help="the year folder to archive, or the word verify"),
    archive: Path | None = typer.Argument(None, help="with verify: the archive to check"),
    out: Path | None = typer.Option(None, "--out", "-o", help="the archive (.zip) to write"),
    roster: Path | None = typer.Option(None, "--roster", help="the roster used, archived as roster/<name>"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing archive"),
) -> None:
    """The year's archive: every file untouched, the standards used, a SHA-256 manifest; or verify one.

    Exit code of verify: 0 intact, 1 a file changed, missing or added (named), 2 not an archive.

    Examples:
      szqa archive szqa-demo -o 2027_archive.zip --roster szqa_xl/data/sample_roster.csv
      szqa archive verify 2027_archive.zip
    """
    from szqa_xl.stages.archive import ArchiveError, build_archive, verify_archive

    _openpyxl_protected()

    if what == "verify":
        if archive is None:
            err.print("[red]error:[/red] give the archive to verify: szqa archive verify ARCHIVE")
            raise typer.Exit(2)
        rep = verify_archive(archive)
        for label, names in (("changed", rep.changed), ("missing", rep.missing), ("added", rep.added)):
            for name in names:
                print(f"{label}: {name}")
        for p in rep.problems:
            err.print(f"[{p.code}] {p.message}", markup=False, soft_wrap=True)
        print(rep.summary())
        if rep.ok:
            raise typer.Exit(0)
        fatal = {"not-a-zip", "no-manifest", "bad-manifest"}
        raise typer.Exit(2 if any(p.code in fatal for p in rep.problems) else 1)
    if out is None:
        err.print("[red]error:[/red] give --out ARCHIVE.zip")
        raise typer.Exit(2)
    try:
        rep = build_archive(Path(what), out, roster=roster, force=force)
    except FileExistsError:
        err.print(f"[red]error:[/red] {out} exists; use --force to overwrite")
        raise typer.Exit(2) from None
    except (ArchiveError, NotADirectoryError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    for p in rep.problems:
        err.print(f"warning: [{p.code}] {p.message}", markup=False, soft_wrap=True)
    print(rep.summary())


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(
        Path("szqa-demo"), "--out", "-o", help="folder for the demo (must be empty or new)"
    ),
    force: bool = typer.Option(False, "--force", help="replace an existing demo folder"),
) -> None:
    """Run the whole cycle on the built-in sample roster: generate, simulate returns, consolidate.

    Example: szqa demo --out /tmp/szqa-demo
    """
    from szqa_xl.demo import run_demo

    _openpyxl_protected()

    try:
        res = run_demo(out, progress=lambda msg: err.print(f"· {msg}"), force=force)
    except FileExistsError:
        err.print(f"[red]error:[/red] {out} is not empty; use --force to replace it or choose --out")
        raise typer.Exit(2) from None
    print(res.summary)
    print(f"scoresheets:  {res.scoresheets}  (one per examiner, with manifest.csv)")
    print(f"returns:      {res.returns}  (simulated; includes a tampered and a wrong-year file)")
    print(f"open this:    {res.workbook}  (总览 overview, one sheet per applicant, 回收情况 returns)")
    print(f"tidy scores:  {res.csv}")
    print(
        f"panels:       {res.panels}  (one consensus workbook per applicant; the demo's meetings filled them)"
    )
    print(f"results:      {res.results}  ({res.finalized})")
    if res.feedback:
        print(
            f"feedback:     {res.feedback}  (反馈报告 per applicant, .docx and .pdf where LibreOffice is present)"
        )
    print(
        f"现场核查:     {res.stage2}  (shortlisted: {res.shortlist}; scoresheets carry 上阶段共识 and 核查要点)"
    )
    print(f"final:        {res.final}  (材料评审 ×0.4 + 现场核查 ×0.6, each stage's total beside it)")
    if res.archive:
        print(f"archive:      {res.archive}  (verify with: szqa archive verify {res.archive})")


@app.command("build-workbooks")
def build_workbooks_cmd(
    out: Path = typer.Option(Path("workbook"), "--out", "-o", help="folder to write into"),
) -> None:
    """Rebuild the blank templates (workbook/templates/) and the secretariat workbook (.xlsm).

    Example: szqa build-workbooks --out workbook
    """
    from szqa_xl.scoresheet.templates import build_workbooks

    for path in build_workbooks(out):
        print(f"wrote {path}")


def main() -> None:  # pragma: no cover - console entry
    app()
