"""Property-based fuzzing of consolidation with mutated returns (hypothesis).

A valid return is mutated — any value of any type in input, locked, cover or metadata
cells (through openpyxl, as a spreadsheet program would write it); sheets deleted,
renamed, moved or hidden; rows and columns inserted or deleted; XML parts corrupted
(byte flips, truncation, junk inserted, spans deleted); the zip itself truncated or
flipped — and consolidated beside two clean returns.  Whatever the mutation:

- consolidation never raises, and no input file changes by a byte;
- every file is merged or rejected with a reason (a known status; problems when not merged);
- the clean files' numbers and texts are unchanged (``hostile_files.check_batch``);
- reading never fails inside the tool: no file is rejected as ``reader-crash`` (an
  exception escaping ``read_return`` or a worker process killed by a native reader).

The normal run keeps hypothesis to a bounded number of examples; the ``slow`` test
consolidates 1,000 mutated files (10 seeded batches of 100, workers=2).
"""

from __future__ import annotations

import itertools
import random
import re
import string
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import hostile_files as hf
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, MergedCell

from szqa_xl import grid
from szqa_xl.batch import consolidate_dir
from szqa_xl.layout import INPUT_FIELDS, SHEET_COVER, SHEET_META, SHEET_SCORES
from szqa_xl.reader import expected_layout
from szqa_xl.standards import builtin_standard

SHEETS = [SHEET_COVER, SHEET_SCORES, "评分指南", "关键术语", "_lists", SHEET_META]
STD = builtin_standard(hf.AWARD)
INPUTS, COVER = expected_layout(hf.AWARD, False)
INPUT_ADDRS = [a for unit in INPUTS.values() for k, a in unit.items() if k in INPUT_FIELDS]
LOCKED_ADDRS = [a for unit in INPUTS.values() for k, a in unit.items() if k.startswith("locked_")]
COVER_ADDRS = list(COVER.values())
OTHER_ADDRS = [f"{SHEET_SCORES}!{c}{r}" for c in "ABCDEFGHIJKLMN" for r in range(1, 40)] + [
    f"{SHEET_META}!{c}{r}" for c in "AB" for r in range(1, 45)
]
BANDS = [b for kind in ("process", "result") for b in grid.band_labels(STD, kind)]
ERROR_CODES = ["#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"]
FORMULAS = ["=40+40", "=1/0", "=A1", "=SUM(H5:H20)", '=HYPERLINK("http://x","y")', "=_lists!A2", "=NA()"]
TEXTS = [
    "80",
    "80%",
    "０.８",
    "80 ",
    " ",
    "",
    "优秀",
    "=1+1",
    "'=1+1",
    "@SUM(A1)",
    "-1",
    "+1",
    "\t=1+1",
    "\r=1+1",
    "]]>",
    "<x/>",
    "&amp;",
    "\u202eRTL",
    "\u200b",
    "😀",
    "本人声明：与申报方无利益冲突",
    "x" * 40_000,
]
SPECIAL_NUMBERS = [
    0,
    5,
    50,
    62,
    80,
    100,
    101,
    -5,
    0.8,
    80.4,
    -0.0,
    1e308,
    1e-308,
    float("inf"),
    float("nan"),
    2**53,
]
SHEET_NAMES = ["Sheet1", "评分表 ", "评分表(2)", "_META", "x" * 31, "评分", "封面1"]
# What openpyxl refuses to write at all (a file cannot contain it), so the fuzzer does not try.
_LEGAL = st.characters(blacklist_categories=("Cs",)).filter(lambda ch: not ILLEGAL_CHARACTERS_RE.match(ch))


# -- mutations -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A cell value and how it is stored: None (openpyxl decides), 's' text, 'e' error."""

    value: object
    dtype: str | None = None

    def __repr__(self) -> str:
        v = self.value
        shown = f"{v[:20]!r}…({len(v)})" if isinstance(v, str) and len(v) > 40 else repr(v)
        return f"{shown}{'/' + self.dtype if self.dtype else ''}"


@dataclass(frozen=True)
class CellEdits:
    edits: tuple[tuple[str, Value], ...]

    def apply(self, src: Path, dst: Path) -> None:
        def fn(wb):
            for addr, v in self.edits:
                sheet, ref = addr.split("!")
                if sheet not in wb.sheetnames:
                    continue
                c = wb[sheet][ref]
                if isinstance(c, MergedCell):
                    continue
                c.value = v.value
                if v.dtype is not None:
                    c.data_type = v.dtype

        hf.edit_workbook(src, dst, fn)


@dataclass(frozen=True)
class SheetOp:
    op: str  # delete | rename | move | hide | very-hide | show
    sheet: str
    arg: object = None

    def apply(self, src: Path, dst: Path) -> None:
        def fn(wb):
            ws = wb[self.sheet]
            if self.op == "delete":
                wb.remove(ws)
            elif self.op == "rename":
                ws.title = str(self.arg)
            elif self.op == "move":
                wb.move_sheet(ws, int(self.arg))
            elif self.op == "hide":
                ws.sheet_state = "hidden"
            elif self.op == "very-hide":
                ws.sheet_state = "veryHidden"
            else:
                ws.sheet_state = "visible"
            if not [s for s in wb.worksheets if s.sheet_state == "visible"]:
                wb.worksheets[0].sheet_state = "visible"  # openpyxl cannot save a workbook with none
            wb.active = [i for i, s in enumerate(wb.worksheets) if s.sheet_state == "visible"][0]

        hf.edit_workbook(src, dst, fn)


@dataclass(frozen=True)
class GridOp:
    op: str  # insert_rows | delete_rows | insert_cols | delete_cols
    sheet: str
    index: int
    amount: int = 1

    def apply(self, src: Path, dst: Path) -> None:
        hf.edit_workbook(src, dst, lambda wb: getattr(wb[self.sheet], self.op)(self.index, self.amount))


@dataclass(frozen=True)
class PartDamage:
    part: int  # index into the zip's parts
    op: str  # flip | truncate | insert | delete | junk
    at: float  # 0..1 position in the part
    data: bytes = b""

    def apply(self, src: Path, dst: Path) -> None:
        parts = hf.zip_parts(src)
        i = self.part % len(parts)
        name, xml = parts[i]
        p = int(self.at * len(xml)) % max(1, len(xml))
        if self.op == "flip":
            xml = hf.flip_bytes(
                xml,
                [p + k * 7 for k in range(max(1, len(self.data)))],
                self.data[:1][0] if self.data else 0x20,
            )
        elif self.op == "truncate":
            xml = xml[:p]
        elif self.op == "insert":
            xml = xml[:p] + self.data + xml[p:]
        elif self.op == "delete":
            xml = xml[:p] + xml[p + max(1, len(self.data)) * 16 :]
        else:
            xml = self.data
        parts[i] = (name, xml)
        hf.write_zip(dst, parts)

    def __repr__(self) -> str:
        return f"PartDamage(part={self.part}, op={self.op!r}, at={self.at:.3f}, data={self.data[:16]!r})"


@dataclass(frozen=True)
class ZipDamage:
    op: str  # truncate | flip
    at: float
    positions: tuple[int, ...] = field(default_factory=tuple)

    def apply(self, src: Path, dst: Path) -> None:
        data = src.read_bytes()
        if self.op == "truncate":
            data = data[: int(self.at * len(data))]
        else:
            data = hf.flip_bytes(data, [int(self.at * len(data)) + p for p in self.positions])
        dst.write_bytes(data)


Mutation = CellEdits | SheetOp | GridOp | PartDamage | ZipDamage


def mutate(kit: hf.Kit, base: str, mutation: Mutation, dst: Path) -> Path:
    mutation.apply(kit.filled[base], dst)
    return dst


# -- hypothesis strategies -------------------------------------------------------------------------------


def values() -> st.SearchStrategy[Value]:
    return st.one_of(
        st.none().map(Value),
        st.integers(-(10**9), 10**9).map(Value),
        st.floats(allow_nan=True, allow_infinity=True).map(Value),
        st.sampled_from(SPECIAL_NUMBERS).map(Value),
        st.booleans().map(Value),
        st.datetimes(min_value=datetime(1, 1, 1)).map(Value),
        st.dates().map(Value),
        st.times().map(Value),
        st.timedeltas(min_value=timedelta(days=-3000), max_value=timedelta(days=3000)).map(Value),
        st.text(_LEGAL, max_size=60).map(lambda s: Value(s, "s")),
        st.sampled_from(TEXTS).map(lambda s: Value(s, "s")),
        st.sampled_from(BANDS).map(lambda s: Value(s, "s")),
        st.sampled_from(ERROR_CODES).map(lambda s: Value(s, "e")),
        st.sampled_from(FORMULAS).map(Value),
    )


def addresses() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(INPUT_ADDRS),
        st.sampled_from(INPUT_ADDRS),  # inputs twice as likely
        st.sampled_from(COVER_ADDRS),
        st.sampled_from(LOCKED_ADDRS),
        st.sampled_from(OTHER_ADDRS),
    )


def mutations() -> st.SearchStrategy[Mutation]:
    some_bytes = st.binary(min_size=1, max_size=64)
    return st.one_of(
        st.lists(st.tuples(addresses(), values()), min_size=1, max_size=6).map(lambda e: CellEdits(tuple(e))),
        st.builds(SheetOp, st.just("rename"), st.sampled_from(SHEETS), st.sampled_from(SHEET_NAMES)),
        st.builds(SheetOp, st.just("move"), st.sampled_from(SHEETS), st.integers(-5, 5)),
        st.builds(SheetOp, st.sampled_from(["delete", "hide", "very-hide", "show"]), st.sampled_from(SHEETS)),
        st.builds(
            GridOp,
            st.sampled_from(["insert_rows", "delete_rows", "insert_cols", "delete_cols"]),
            st.sampled_from([SHEET_SCORES, SHEET_COVER, SHEET_META]),
            st.integers(1, 40),
            st.integers(1, 3),
        ),
        st.builds(
            PartDamage,
            st.integers(0, 20),
            st.sampled_from(["flip", "truncate", "insert", "delete", "junk"]),
            st.floats(0, 1),
            some_bytes,
        ),
        st.builds(
            ZipDamage,
            st.sampled_from(["truncate", "flip"]),
            st.floats(0, 1),
            st.lists(st.integers(0, 4096), min_size=1, max_size=8).map(tuple),
        ),
    )


FUZZ = settings(
    max_examples=25,
    deadline=None,
    database=None,  # nothing written into the checkout
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # no shrinking: each example costs a batch
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


_EXAMPLE = itertools.count()


def scratch(tmp_path: Path) -> Path:
    """A fresh folder per hypothesis example (tmp_path is shared by all examples of a test)."""
    return tmp_path / f"ex{next(_EXAMPLE):05d}"


def crashes(cons) -> list[str]:
    return [f"{r.file}: {p.message}" for r in cons.returns for p in r.problems if p.code == "reader-crash"]


# Explicit examples: the kinds of damage the random search has found to escape the reader.
SCORES_PART = 4  # index of xl/worksheets/sheet2.xml (评分表) in an openpyxl-saved return
DATE_PANIC = CellEdits((("封面!C11", Value(-1.0180035058311171e66)),))
"""Found in CI: a date-formatted cell holding -1e66 makes calamine panic (pyo3 PanicException, a
BaseException that cannot be pickled back from a worker); the file must be rejected, the batch go on."""
KNOWN = [
    PartDamage(SCORES_PART, "junk", 0.0, b"y"),
    PartDamage(SCORES_PART, "insert", 0.5, b"\xff\xfe"),
    PartDamage(SCORES_PART, "truncate", 0.3),
]


@FUZZ
@given(mutation=mutations(), base=st.sampled_from([hf.VICTIM, "E04"]))
@example(mutation=KNOWN[0], base=hf.VICTIM)
@example(mutation=KNOWN[1], base=hf.VICTIM)
@example(mutation=DATE_PANIC, base=hf.VICTIM)
def test_fuzz_mutated_return_in_batch(hostile_kit, tmp_path, mutation, base):
    """Never raises; every file merged or rejected with a reason; the clean files unchanged."""
    work = scratch(tmp_path)
    folder = hostile_kit.batch(work / "returns")
    name = "m_" + hostile_kit.filled[base].name
    mutate(hostile_kit, base, mutation, work / name)
    (work / name).rename(folder / name)
    out = hf.check_batch(hostile_kit, folder, workers=1)
    rec = out.record(name)
    assert rec.status in ("accepted", "incomplete", "rejected", "duplicate"), rec.status
    if rec.status == "rejected":
        assert rec.problems and all(p.message for p in rec.problems)


@FUZZ
@given(mutation=mutations())
@example(mutation=KNOWN[0])
@example(mutation=KNOWN[1])
@example(mutation=KNOWN[2])
def test_fuzz_mutated_return_never_crashes_the_reader(hostile_kit, tmp_path, mutation):
    """A damaged file is rejected for what is wrong with it, not as an internal error of the tool."""
    work = scratch(tmp_path)
    folder = work / "returns"
    folder.mkdir(parents=True)
    mutate(hostile_kit, hf.VICTIM, mutation, folder / hostile_kit.victim.name)
    cons = consolidate_dir(folder, year=hf.YEAR, workers=1)
    assert not crashes(cons), (mutation, crashes(cons))


# -- the slow run: 1,000 mutated files ------------------------------------------------------------------


def random_value(rng: random.Random) -> Value:
    kind = rng.randrange(12)
    if kind == 0:
        return Value(None)
    if kind == 1:
        return Value(rng.choice(SPECIAL_NUMBERS))
    if kind == 2:
        return Value(rng.randint(-1000, 1000))
    if kind == 3:
        return Value(rng.uniform(-200, 200))
    if kind == 4:
        return Value(rng.choice([True, False]))
    if kind == 5:
        return Value(
            rng.choice(
                [
                    datetime(2027, 5, 20, 9, 30),
                    date(1900, 1, 1),
                    time(12, 0),
                    timedelta(days=3),
                    datetime(1, 1, 1),
                ]
            )
        )
    if kind == 6:
        return Value(rng.choice(TEXTS), "s")
    if kind == 7:
        alphabet = string.printable.replace("\x0b", "").replace("\x0c", "") + "评分表得分率区间优势改进０８％"
        return Value("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))), "s")
    if kind == 8:
        return Value(rng.choice(BANDS), "s")
    if kind == 9:
        return Value(rng.choice(ERROR_CODES), "e")
    if kind == 10:
        return Value(rng.choice(FORMULAS))
    return Value(rng.choice([5, 10, 50, 55, 60, 95, 100]))


def random_mutation(rng: random.Random) -> Mutation:
    kind = rng.choices(["cells", "sheet", "grid", "part", "zip"], weights=[5, 1, 1, 3, 1])[0]
    if kind == "cells":
        pools = [INPUT_ADDRS, INPUT_ADDRS, COVER_ADDRS, LOCKED_ADDRS, OTHER_ADDRS]
        return CellEdits(
            tuple((rng.choice(rng.choice(pools)), random_value(rng)) for _ in range(rng.randint(1, 6)))
        )
    if kind == "sheet":
        op = rng.choice(["delete", "rename", "move", "hide", "very-hide", "show"])
        arg = rng.choice(SHEET_NAMES) if op == "rename" else rng.randint(-5, 5)
        return SheetOp(op, rng.choice(SHEETS), arg)
    if kind == "grid":
        return GridOp(
            rng.choice(["insert_rows", "delete_rows", "insert_cols", "delete_cols"]),
            rng.choice([SHEET_SCORES, SHEET_COVER, SHEET_META]),
            rng.randint(1, 40),
            rng.randint(1, 3),
        )
    if kind == "part":
        return PartDamage(
            rng.randrange(20),
            rng.choice(["flip", "truncate", "insert", "delete", "junk"]),
            rng.random(),
            rng.randbytes(rng.randint(1, 64)),
        )
    return ZipDamage(
        rng.choice(["truncate", "flip"]), rng.random(), tuple(rng.randrange(4096) for _ in range(4))
    )


@pytest.mark.slow
def test_fuzz_thousand_mutated_files(hostile_kit, tmp_path):
    """10 seeded batches of 100 mutated files (+ the 2 clean returns), workers=2: zero crashes."""
    total = Counter()
    crashed: list[str] = []
    for seed in range(10):
        rng = random.Random(seed)
        folder = hostile_kit.batch(tmp_path / f"batch{seed}" / "returns")
        made: dict[str, Mutation] = {}
        for i in range(100):
            m = random_mutation(rng)
            name = f"m{seed}_{i:03d}.xlsx"
            mutate(hostile_kit, rng.choice([hf.VICTIM, "E04"]), m, folder.parent / name)
            (folder.parent / name).rename(folder / name)
            made[name] = m
        out = hf.check_batch(hostile_kit, folder, workers=2)
        for name, m in made.items():
            rec = out.record(name)
            total[rec.status] += 1
            crashed += [
                f"seed {seed} {name} {m!r}: {p.message}" for p in rec.problems if p.code == "reader-crash"
            ]
    assert sum(total.values()) == 1000
    assert not crashed, f"{len(crashed)} of 1000 files crashed the reader ({dict(total)}):\n" + "\n".join(
        crashed[:20]
    )


def test_mutations_are_applied(hostile_kit, tmp_path):
    """Each mutation kind really changes the file (the fuzzer is not testing good files by accident)."""
    good = hostile_kit.filled[hf.VICTIM].read_bytes()
    samples = [
        CellEdits(((INPUT_ADDRS[1], Value(62)),)),
        SheetOp("delete", SHEET_META),
        GridOp("insert_rows", SHEET_SCORES, 5),
        PartDamage(3, "truncate", 0.5),
        ZipDamage("truncate", 0.5),
    ]
    names = [n for n, _ in hf.zip_parts(hostile_kit.victim)]
    assert names[SCORES_PART] == hf.scores_part(hostile_kit.victim), names
    for i, m in enumerate(samples):
        dst = mutate(hostile_kit, hf.VICTIM, m, tmp_path / f"{i}.xlsx")
        assert dst.read_bytes() != good, m
    with zipfile.ZipFile(tmp_path / "0.xlsx") as zf:
        xml = zf.read(hf.scores_part(tmp_path / "0.xlsx"))
    ref = INPUT_ADDRS[1].split("!")[1]
    assert re.search(rf'<c r="{ref}"[^>]*><v>62</v>'.encode(), xml)
