"""Consolidation benchmark: the calamine floor, a hand-written pandas pipeline, and `szqa consolidate`.

Run on demand (not part of the test suite):

    python benchmarks/bench_consolidate.py                 # N = 1000, 3 repeats, then 10×N memory
    python benchmarks/bench_consolidate.py --n 200 --skip-10x

On the same N filled returns, in one run, each repeat times

  (a)  floor   python-calamine opening each file and reading just the input cells of 评分表
               (band G, pct H, strengths L, ofi M, evidence N of every scoring unit), one process;
  (b)  pandas  ``pd.read_excel(path, sheet_name="评分表", engine="openpyxl", header=2)`` per file,
               concat, group-by (applicant, unit) median of 得分率, ``to_excel``;
  (c)  szqa    ``szqa consolidate RETURNS --manifest M -o OUT --force`` as a subprocess of the
               venv's console script (interpreter start-up and imports included), and its
               read/validate phase alone, in this process: ``batch.read_all(files)`` with the
               default workers and with ``workers=0`` (since the reader's rebuild every read runs in
               an isolated worker process under a time and memory limit: 0 means one such worker).

(a) and (c)'s read/validate phase, seconds each, are timed ``--read-repeats`` times per repeat,
alternately, so the shared VM's drift hits both alike.  It prints medians over all of them, the
ratios c_read/a (also paired: each read against the floor run just before it) and b/c, and the peak memory
(ru_maxrss from wait4 of the `szqa consolidate` child) at N and at 10×N.  The 10×N returns are
made by patching copies of a faithfully filled pool (see ``_common.make_patched``).

Targets (docs: shared design "Performance"): read/validate within 2× of the floor; end to end
at least 5× faster than (b); peak memory at 10×N no more than 1.5× that at N.
"""

from __future__ import annotations

import argparse
import inspect as pyinspect
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SAVED_BY, machine, median, prepare_returns, run_child, timed  # noqa: E402

from szqa_xl.returns.reader import split_ref  # noqa: E402
from szqa_xl.scoresheet.generate import read_manifest  # noqa: E402
from szqa_xl.scoresheet.layout import INPUT_FIELDS, Issue, plan_scoresheet  # noqa: E402
from szqa_xl.standards.load import builtin_standard  # noqa: E402

SZQA = Path(sys.executable).parent / "szqa"


# -- (a) the floor ---------------------------------------------------------------------------------


def input_cells(award: str) -> list[tuple[int, int]]:
    """0-based (row, col) of every input cell of the scoring sheet, from the layout plan."""
    inputs = plan_scoresheet(builtin_standard(award), Issue()).inputs
    cells = []
    for addrs in inputs.values():
        for key in INPUT_FIELDS:
            r, c = split_ref(addrs[key].split("!")[1])
            cells.append((r - 1, c - 1))
    return cells


def floor(jobs: list[tuple[str, list[tuple[int, int]]]]) -> int:
    from python_calamine import CalamineWorkbook

    n = 0
    for path, cells in jobs:
        rows = CalamineWorkbook.from_path(path).get_sheet_by_name("评分表").to_python(skip_empty_area=False)
        values = [rows[r][c] if r < len(rows) and c < len(rows[r]) else None for r, c in cells]
        n += sum(v not in ("", None) for v in values)
    return n


# -- (b) the pandas pipeline a clerk would write ---------------------------------------------------


def pandas_pipeline(paths: list[Path], out: Path) -> int:
    import pandas as pd

    frames = []
    for p in paths:
        df = pd.read_excel(p, sheet_name="评分表", engine="openpyxl", header=2)
        df["申报编号"] = p.name.split("_")[2]  # 2027_经济类_EC-00001_E001_李明.xlsx
        frames.append(df)
    allrows = pd.concat(frames, ignore_index=True)
    allrows = allrows[allrows["得分率% ▼"].notna()]
    result = allrows.groupby(["申报编号", "编号"])["得分率% ▼"].median().reset_index()
    result.to_excel(out, index=False)
    return len(result)


# -- (c) szqa --------------------------------------------------------------------------------------


def szqa_cmd(returns: Path, manifest: Path, out: Path) -> list[str]:
    return [str(SZQA), "consolidate", str(returns), "--manifest", str(manifest), "-o", str(out), "--force"]


def child_cmd(returns: Path, manifest: Path, out: Path, write: bool) -> list[str]:
    """A child running consolidate_dir (and write_outputs unless not ``write``): see _child_consolidate.py."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve().parent / "_child_consolidate.py"),
        str(returns),
        str(manifest),
    ]
    return cmd + ([str(out)] if write else [])


def read_phase(paths: list[Path], workers: int | None):
    from szqa_xl.consolidation.batch import read_all

    files = read_all(paths) if workers is None else read_all(paths, workers=workers)
    bad = [f for f in files if f.status == "rejected"]
    if bad:
        raise SystemExit(f"{len(bad)} returns rejected, e.g. {bad[0].name}: {bad[0].problems[:2]}")
    return files


def breakdown(returns: Path, manifest: Path, out: Path) -> dict[str, float]:
    """Seconds of each phase of consolidation in this process (one run): where (c) goes."""
    from szqa_xl.consensus.build import write_all, write_panels
    from szqa_xl.consolidation.batch import (
        consolidate_dir,
        find_returns,
        read_all,
        write_outputs,
        write_scores_csv,
    )
    from szqa_xl.consolidation.report import plan_consolidated
    from szqa_xl.xlsx import writer

    out.mkdir(parents=True, exist_ok=True)
    res = {}
    res["read_all (default workers)"], _ = timed(lambda: read_all(find_returns(returns)[0]))
    res["consolidate_dir (incl. reading)"], cons = timed(lambda: consolidate_dir(returns, manifest=manifest))
    res["write_all: workbook, CSV, panel workbooks (default workers)"], _ = timed(
        lambda: write_all(cons, out / "all", force=True)
    )
    res["  write_outputs alone (default workers)"], _ = timed(
        lambda: write_outputs(cons, out / "default", force=True)
    )
    res["  writer.write of consolidated.xlsx, 1 process"], _ = timed(
        lambda: writer.write(plan_consolidated(cons), out / "serial.xlsx")
    )
    res["  write_scores_csv, 1 process"], _ = timed(lambda: write_scores_csv(cons, out / "serial.csv"))
    shutil.rmtree(out / "panels", ignore_errors=True)
    res["  write_panels alone, 1 process"], _ = timed(lambda: write_panels(cons, out / "panels", workers=1))
    return res


# -- the run ---------------------------------------------------------------------------------------


def mib(kib: int) -> float:
    return kib / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="number of filled returns (default 1000)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of every timing (default 3)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/szqa-bench"), help="scratch folder")
    ap.add_argument("--skip-10x", action="store_true", help="skip the 10×N peak-memory run")
    ap.add_argument(
        "--make",
        choices=("auto", "fill", "patch"),
        default="auto",
        help="how returns are made: fill = generate()+fill_scoresheet for every file; patch = fill a "
        "60-file pool and copy it with patched identities; auto (default) = fill for N, patch for 10×N",
    )
    ap.add_argument(
        "--saved-by",
        choices=SAVED_BY,
        default="openpyxl",
        help="what saved the filled returns: openpyxl (default; as the tests fill them) or LibreOffice "
        "Calc after it (as an examiner using Calc sends them back: shared strings, rich-text runs)",
    )
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for making data")
    ap.add_argument("--reuse", action="store_true", help="reuse returns already made in --workdir")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--breakdown", action="store_true", help="also time each consolidation phase in-process")
    ap.add_argument(
        "--read-repeats",
        type=int,
        default=3,
        help="(a) and (c) read/validate are timed this many times, alternately, in every repeat (default 3)",
    )
    args = ap.parse_args()

    from szqa_xl.consolidation.batch import find_returns, read_all

    default_workers = pyinspect.signature(read_all).parameters["workers"].default
    res: dict = {"machine": machine(), "n": args.n, "repeats": args.repeats}
    print(f"# nproc {res['machine']['nproc']}; {res['machine']['cpu']}; Python {res['machine']['python']}")
    print(f"# {res['machine']['versions']}")
    print(f"# {res['machine']['package']}")

    mode_n = "fill" if args.make in ("auto", "fill") else "patch"
    tag = "" if args.saved_by == "openpyxl" else f"-{args.saved_by}"
    work = args.workdir / f"n{args.n}{tag}"
    returns, manifest, how = prepare_returns(args.n, work, mode_n, args.jobs, args.reuse, args.saved_by)
    paths, _skipped = find_returns(returns)
    assert len(paths) == args.n, (len(paths), args.n)
    size = sum(p.stat().st_size for p in paths)
    print(f"N = {args.n} returns in {returns} ({size / 1e6:.1f} MB), {how}")
    res["data"] = {"mode": mode_n, "how": how, "bytes": size, "saved_by": args.saved_by}

    award_of = {Path(m["path"]).name: m["award_category"] for m in read_manifest(manifest)}
    cells = {a: input_cells(a) for a in set(award_of.values())}
    floor_jobs = [(str(p), cells[award_of[p.name]]) for p in paths]

    t: dict[str, list[float]] = {k: [] for k in ("a", "b", "c", "c_read", "c_read0")}
    rss_n: list[int] = []
    out_b = work / "pandas_out.xlsx"
    out_c = work / "szqa_out"
    k = args.read_repeats
    for rep in range(args.repeats):
        for _ in range(k):  # the short timings, alternated: the VM's drift hits both alike
            dt, n_cells = timed(lambda: floor(floor_jobs))
            t["a"].append(dt)
            dt, _ = timed(lambda: read_phase(paths, None))
            t["c_read"].append(dt)
        dt, n_groups = timed(lambda: pandas_pipeline(paths, out_b))
        t["b"].append(dt)
        shutil.rmtree(out_c, ignore_errors=True)  # a first consolidation: no panel workbooks there yet
        dt, code, rss = run_child(szqa_cmd(returns, manifest, out_c), work / "szqa.log")
        if code != 0:
            raise SystemExit(f"szqa consolidate exited {code}; see {work / 'szqa.log'}")
        t["c"].append(dt)
        rss_n.append(rss)
        dt, _ = timed(lambda: read_phase(paths, 0))
        t["c_read0"].append(dt)
        print(
            f"repeat {rep + 1}: a {' '.join(f'{x:.2f}' for x in t['a'][-k:])} s | "
            f"c_read {' '.join(f'{x:.2f}' for x in t['c_read'][-k:])} s | b {t['b'][-1]:.2f} s | "
            f"c {t['c'][-1]:.2f} s (maxrss {mib(rss):.0f} MiB) | c_read workers=0 {t['c_read0'][-1]:.2f} s",
            flush=True,
        )
    summary = (work / "szqa.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1]
    print(f"szqa: {summary}")
    print(f"floor read {n_cells} non-empty input cells; pandas wrote {n_groups} (applicant, unit) medians")

    # Once more into the folder just written: a re-run (late returns), which checks every panel
    # workbook already there for its panel's edits before writing (none are edited here).
    rerun, code, _ = run_child(szqa_cmd(returns, manifest, out_c), work / "szqa.log")
    if code != 0:
        raise SystemExit(f"szqa consolidate (re-run) exited {code}; see {work / 'szqa.log'}")
    print(f"(c) re-run into the same folder, panel workbooks there: {rerun:.2f} s")
    res["rerun_seconds"] = rerun

    # Peak memory of consolidate_dir alone (no outputs written), to split the e2e figure.
    _, code, rss_cons = run_child(child_cmd(returns, manifest, out_c, write=False), work / "child.log")
    med = {k: median(v) for k, v in t.items()}
    if args.breakdown:
        res["breakdown_seconds"] = breakdown(returns, manifest, work / "breakdown_out")
        print("phases of (c), in-process, one run:")
        for k, v in res["breakdown_seconds"].items():
            print(f"  {k:40s} {v:7.2f} s")
    res["seconds"] = {k: {"median": med[k], "all": v} for k, v in t.items()}
    res["maxrss_mib"] = {"n_e2e": mib(max(rss_n)), "n_consolidate_dir_only": mib(rss_cons)}

    if not args.skip_10x:
        n10 = 10 * args.n
        mode10 = "patch" if args.make in ("auto", "patch") else "fill"
        work10 = args.workdir / f"n{n10}{tag}"
        returns10, manifest10, how10 = prepare_returns(
            n10, work10, mode10, args.jobs, args.reuse, args.saved_by
        )
        print(f"10×N = {n10} returns, {how10}", flush=True)
        shutil.rmtree(work10 / "szqa_out", ignore_errors=True)
        dt10, code10, rss10 = run_child(
            szqa_cmd(returns10, manifest10, work10 / "szqa_out"), work10 / "szqa.log"
        )
        if code10 != 0:
            raise SystemExit(f"szqa consolidate (10×N) exited {code10}; see {work10 / 'szqa.log'}")
        summary10 = (
            (work10 / "szqa.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1]
        )
        print(f"szqa 10×N: {summary10}  ({dt10:.1f} s, maxrss {mib(rss10):.0f} MiB)", flush=True)
        _, _, rss10_cons = run_child(
            child_cmd(returns10, manifest10, work10 / "szqa_out", False), work10 / "child.log"
        )
        res["data10"] = {"mode": mode10, "how": how10, "n": n10}
        res["seconds"]["c_10x"] = {"median": dt10, "all": [dt10]}
        res["maxrss_mib"].update({"10n_e2e": mib(rss10), "10n_consolidate_dir_only": mib(rss10_cons)})

    a, b, c, cr, cr0 = (med[k] for k in ("a", "b", "c", "c_read", "c_read0"))
    n = args.n
    print()
    print(f"medians over {args.repeats} repeats, N = {n}, returns saved by {args.saved_by}")
    print(f"  (a) floor, calamine input cells      {a:8.2f} s  {1000 * a / n:7.2f} ms/file")
    print(f"  (b) pandas read_excel+groupby+to_excel {b:6.2f} s  {1000 * b / n:7.2f} ms/file")
    print(f"  (c) szqa consolidate end to end      {c:8.2f} s  {1000 * c / n:7.2f} ms/file")
    print(
        f"  (c) read/validate, workers={default_workers} (default) {cr:6.2f} s  {1000 * cr / n:7.2f} ms/file"
    )
    print(f"  (c) read/validate, workers=0 (1 wkr) {cr0:8.2f} s  {1000 * cr0 / n:7.2f} ms/file")
    ratios = {
        "c_read/a": cr / a,
        "c_read0/a": cr0 / a,
        "b/c": b / c,
        "c/a": c / a,
    }
    paired = [r / f for r, f in zip(t["c_read"], t["a"], strict=True)]
    ratios["c_read/a paired, median"] = median(paired)
    print(
        f"  c_read/a = {ratios['c_read/a']:.2f}  (workers=0: {ratios['c_read0/a']:.2f}; "
        f"each run against the floor run before it: {min(paired):.2f}–{max(paired):.2f}, "
        f"median {median(paired):.2f})   target ≤ 2"
    )
    print(f"  b/c      = {ratios['b/c']:.2f}   target ≥ 5")
    m = res["maxrss_mib"]
    print(
        f"  peak memory N:    szqa consolidate {m['n_e2e']:.0f} MiB (consolidate_dir alone {m['n_consolidate_dir_only']:.0f} MiB)"
    )
    if "10n_e2e" in m:
        ratios["rss_10n/n"] = m["10n_e2e"] / m["n_e2e"]
        ratios["rss_10n/n_consolidate_dir_only"] = m["10n_consolidate_dir_only"] / m["n_consolidate_dir_only"]
        print(
            f"  peak memory 10×N: szqa consolidate {m['10n_e2e']:.0f} MiB "
            f"(consolidate_dir alone {m['10n_consolidate_dir_only']:.0f} MiB); "
            f"10×N/N = {ratios['rss_10n/n']:.2f}   target ≤ 1.5"
        )
        print(f"  10×N end to end {res['seconds']['c_10x']['median']:.1f} s")
    res["ratios"] = ratios
    res["targets_met"] = {
        "read_within_2x_floor": ratios["c_read/a"] <= 2,
        "e2e_5x_faster_than_pandas": ratios["b/c"] >= 5,
        **({"memory_flat": ratios["rss_10n/n"] <= 1.5} if "rss_10n/n" in ratios else {}),
    }
    print(f"  targets met: {res['targets_met']}")
    res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    out = args.json or args.workdir / f"results_consolidate_n{n}{tag}.json"
    out.write_text(json.dumps(res, ensure_ascii=False, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
