"""Generation benchmark: personalised scoresheets from a roster, against a plain openpyxl load-and-save.

Run on demand (not part of the test suite):

    python benchmarks/bench_generate.py                  # 1000 scoresheets, 3 repeats
    python benchmarks/bench_generate.py --n 200 --repeats 1

Each repeat calls ``szqa_xl.scoresheet.generate.generate(roster, 2027, out)`` on a roster of N rows (panels
of 5 examiners, the six award categories in turn, as in bench_consolidate) with its default workers
(this process and one forked helper) and reports seconds per file.  The baseline is one plain openpyxl load-and-save of the same
template: ``generate_blank(category)`` once, then ``openpyxl.load_workbook(blank)`` +
``wb.save(copy)`` timed (median of ``--baseline-repeats``) for each category; the ratio uses the
roster's category mix.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import YEAR, category_mix, machine, median, roster_rows, timed, write_roster  # noqa: E402

from szqa_xl.scoresheet.generate import generate, generate_blank  # noqa: E402


def load_and_save(src: Path, dst: Path) -> None:
    from openpyxl import load_workbook

    load_workbook(src).save(dst)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="scoresheets to generate (default 1000)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of generate() (default 3)")
    ap.add_argument("--baseline-repeats", type=int, default=9, help="repeats of each load-and-save")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/szqa-bench-gen"), help="scratch folder")
    ap.add_argument("--profile", type=int, default=0, metavar="K", help="also cProfile generate() of K rows")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = ap.parse_args()

    m = machine()
    print(f"# nproc {m['nproc']}; {m['cpu']}; Python {m['python']}; {m['versions']}")
    print(f"# {m['package']}")
    work = args.workdir
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    rows = roster_rows(args.n)
    roster = write_roster(rows, work / "roster.csv")
    mix = category_mix(rows)
    print(f"roster: {args.n} rows, {args.n // 5} applicants; mix {mix}")

    # Baseline: one plain openpyxl load-and-save of each category's generated blank template.
    base: dict[str, float] = {}
    for cat in mix:
        blank = generate_blank(cat, work / "blank" / f"{cat}.xlsx")
        load_and_save(blank, work / "blank" / f"{cat}_copy.xlsx")  # warm-up
        ts = [
            timed(lambda b=blank, c=cat: load_and_save(b, work / "blank" / f"{c}_copy.xlsx"))[0]
            for _ in range(args.baseline_repeats)
        ]
        base[cat] = median(ts)
    base_mix = sum(base[c] * k for c, k in mix.items()) / args.n
    print(
        "openpyxl load+save of the blank template, median of "
        f"{args.baseline_repeats}: " + ", ".join(f"{c} {1000 * v:.1f} ms" for c, v in base.items())
    )

    times = []
    for rep in range(args.repeats):
        out = work / f"out{rep}"
        dt, res = timed(lambda o=out: generate(roster, YEAR, o))
        if res.problems or len(res.files) != args.n:
            raise SystemExit(f"generate failed: {res.problems[:3]}")
        times.append(dt)
        size = sum(f.stat().st_size for f in res.files)
        print(
            f"repeat {rep + 1}: {dt:.1f} s, {1000 * dt / args.n:.1f} ms/file ({size / 1e6:.1f} MB)",
            flush=True,
        )
        shutil.rmtree(out)
    med = median(times)
    per_file = med / args.n
    print()
    print(
        f"generate(): {args.n} scoresheets, median {med:.1f} s over {args.repeats} → {1000 * per_file:.1f} ms/file"
    )
    print(f"plain openpyxl load+save of the same template (mix-weighted): {1000 * base_mix:.1f} ms/file")
    print(f"ratio generate/load+save = {per_file / base_mix:.2f}")
    result = {
        "machine": m,
        "n": args.n,
        "mix": mix,
        "generate_seconds": times,
        "generate_ms_per_file": 1000 * per_file,
        "baseline_ms": {c: 1000 * v for c, v in base.items()},
        "baseline_ms_mix": 1000 * base_mix,
        "ratio": per_file / base_mix,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if args.profile:
        k = min(args.profile, args.n)
        small = write_roster(rows[:k], work / "roster_profile.csv")
        pr = cProfile.Profile()
        pr.enable()
        generate(small, YEAR, work / "out_profile")
        pr.disable()
        stats = pstats.Stats(pr)
        stats.sort_stats("cumulative").print_stats(r"szqa_xl|openpyxl/(workbook|writer)|save", 25)
    out = args.json or work.parent / f"results_generate_n{args.n}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(f"results: {out}")
    if os.environ.get("SZQA_BENCH_KEEP") != "1":
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
