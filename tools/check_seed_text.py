"""Check one standard YAML: it loads, every text in it occurs in the seeds, and none keeps a
stray space of the PDF extraction between two Chinese characters.

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


# A space the PDF extraction left between two Chinese characters or punctuation marks
# (程 度, 体现 “为民): the YAML mends it; a paragraph break inside a text is a "\n" and allowed.
STRAY_SPACE = re.compile(r"[^\x00-\x7f][ \t\u3000]+[^\x00-\x7f]")


def texts(std):
    yield "profile.note", std.profile.note
    for v in std.profile.variants:
        yield "profile", v.text
    for cv in std.core_values:
        yield "core_values", cv.text
    if std.detail_intro:
        yield "detail_intro title", std.detail_intro.title
        for n, para in enumerate(std.detail_intro.paragraphs):
            # the paragraph as published, and each of its runs
            yield f"detail_intro paragraph {n + 1}", para.text
            for part in para.parts:
                yield f"detail_intro paragraph {n + 1} ({part.applies_to})", part.text
    for c in std.categories:
        yield f"cat {c.code} name", c.name
        yield f"cat {c.code} detail_name", c.detail_name
        yield f"cat {c.code} description", c.description
        for i in c.items:
            yield f"item {i.code} name", i.name
            yield f"item {i.code} detail_name", i.detail_name
            yield f"item {i.code} description", i.description
            yield f"item {i.code} detail_text", i.detail_text
            yield f"item {i.code} requirement", i.requirement
            for p in i.standard_points:
                yield f"item {i.code} standard_points", p
            for g in i.guidance:
                yield f"item {i.code} guidance", g.text
                yield f"item {i.code} guidance title", g.title
            for s in i.sub_items:
                yield f"sub {s.code} name", s.name
                yield f"sub {s.code} detail_name", s.detail_name
                yield f"sub {s.code} description", s.description
                for g in s.guidance:
                    yield f"sub {s.code} guidance {g.code}", g.text
                    yield f"sub {s.code} guidance title", g.title
    if std.scoring_principles:
        sp = std.scoring_principles
        yield "scoring_principles title", sp.title
        for n, para in enumerate(sp.paragraphs):
            yield f"scoring_principles paragraph {n + 1}", para.text
            for part in para.parts:
                yield f"scoring_principles paragraph {n + 1} ({part.applies_to})", part.text
        for c in sp.considerations:
            yield "scoring_principles considerations", c
        for f in sp.process_factors + sp.result_factors:
            yield f"scoring_principles factor {f.code}", f.name
            yield f"scoring_principles factor {f.code}", f.name_en
    for kind in ("process", "result"):
        guide = std.guide(kind)
        yield f"guide {kind} title", guide.title
        for b in guide.bands:
            yield f"guide {kind} {b.min}-{b.max} level", b.level
            for d in b.descriptors:
                yield f"guide {kind} {b.min}-{b.max}", d
        if guide.note:
            for line in guide.note.text.split("\n"):
                yield f"guide {kind} note", line
            for g in guide.note.groups:
                yield f"guide {kind} note basis", g.basis
                for t in g.terms:
                    # the term as the note prints it: 少量-少于15%
                    yield f"guide {kind} note term {t.term}", f"{t.term}-{t.meaning}"
    for t in std.glossary:
        yield f"glossary {t.term}", t.term
        yield f"glossary {t.term}", t.term_en
        yield f"glossary {t.term}", t.definition


def main(path):
    std = load_standard(path)
    seed = "".join(squash(p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt")))
    bad = 0
    for where, text in texts(std):
        if text and squash(text) not in seed:
            bad += 1
            print(f"NOT IN SEED: {where}: {text[:80]}")
        if text and (m := STRAY_SPACE.search(text)):
            bad += 1
            print(f"STRAY SPACE: {where}: …{text[max(0, m.start() - 10) : m.end() + 10]}…")
    units = std.units()
    print(
        f"{std.id}: {len(std.categories)} categories, {len(units)} units, "
        f"{sum(u.points for u in units)} points, guides {len(std.guides.process.bands)}/"
        f"{len(std.guides.result.bands)} bands, {len(std.glossary)} terms, {bad} texts not in seed or with a stray space"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
