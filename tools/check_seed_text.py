"""Check one standard YAML: it loads, and every text in it occurs in the seeds.

Usage: python tools/check_seed_text.py standards/culture.yaml
"""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from szqa_xl.standards.load import load_standard  # noqa: E402

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def texts(std):
    yield "profile.note", std.profile.note
    for v in std.profile.variants:
        yield "profile", v.text
    for cv in std.core_values:
        yield "core_values", cv.text
    for c in std.categories:
        yield f"cat {c.code} description", c.description
        for i in c.items:
            yield f"item {i.code} description", i.description
            yield f"item {i.code} requirement", i.requirement
            for p in i.standard_points:
                yield f"item {i.code} standard_points", p
            for g in i.guidance:
                yield f"item {i.code} guidance", g.text
                yield f"item {i.code} guidance title", g.title
            for s in i.sub_items:
                yield f"sub {s.code} description", s.description
                for g in s.guidance:
                    yield f"sub {s.code} guidance {g.code}", g.text
                    yield f"sub {s.code} guidance title", g.title
    for kind in ("process", "result"):
        for b in std.guide(kind).bands:
            for d in b.descriptors:
                yield f"guide {kind} {b.min}-{b.max}", d
    for t in std.glossary:
        yield f"glossary {t.term}", t.definition


def main(path):
    std = load_standard(path)
    seed = "".join(squash(p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt")))
    bad = 0
    for where, text in texts(std):
        if text and squash(text) not in seed:
            bad += 1
            print(f"NOT IN SEED: {where}: {text[:80]}")
    units = std.units()
    print(
        f"{std.id}: {len(std.categories)} categories, {len(units)} units, "
        f"{sum(u.points for u in units)} points, guides {len(std.guides.process.bands)}/"
        f"{len(std.guides.result.bands)} bands, {len(std.glossary)} terms, {bad} texts not in seed"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
