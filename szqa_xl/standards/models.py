"""Pydantic models of an award standard, with the checks every edition must pass.

A standard is kept as YAML in ``standards/``; these models are the only way it is
read.  They are frozen and reject unknown fields, so a typo in a new edition is an
error rather than a silently ignored key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Kind = Literal["process", "result"]
AwardId = Literal["economic", "culture", "social", "ecology", "management", "service"]
ApplicantKind = Literal["organisation", "project"]
AppliesTo = Literal["any", "organisation", "project"]

AWARD_IDS: tuple[str, ...] = ("economic", "culture", "social", "ecology", "management", "service")
KIND_ZH: dict[str, str] = {"process": "过程", "result": "结果"}
APPLICANT_KIND_ZH: dict[str, str] = {"organisation": "组织", "project": "项目"}

_CODE_RE = re.compile(r"^[1-9]\d*(\.[1-9]\d*)*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GuidancePoint(_Frozen):
    """One 要点指引: a numbered code (x.y.z.n), a title, or both, and its full text."""

    code: str | None = None
    title: str | None = None
    text: str = Field(min_length=1)


class SubItem(_Frozen):
    """子条目 (x.y.z): the scoring unit of the non-economic standards."""

    code: str
    name: str = Field(min_length=1)
    detail_name: str | None = Field(
        None, description="name the 评审细则 prints for the sub-item where it differs from name (标准内容)"
    )
    points: int = Field(gt=0)
    kind: Kind
    description: str = Field(min_length=1, description="标准内容 text of the sub-item")
    guidance: tuple[GuidancePoint, ...] = Field(min_length=1)


class Item(_Frozen):
    """条目 (x.y).  In the economic standard the item itself is the scoring unit."""

    code: str
    name: str = Field(min_length=1)
    detail_name: str | None = Field(
        None, description="name the 评审细则 prints for the item where it differs from name (标准内容)"
    )
    points: int = Field(gt=0)
    description: str | None = Field(None, description="标准内容 lead sentence of the item")
    detail_text: str | None = Field(
        None,
        description="non-economic: the item's sentence in the 评审细则 (基本要求和总体要求 column) "
        "where it differs from description",
    )
    kind: Kind | None = None
    requirement: str | None = Field(
        None,
        description="economic 评审细则: the item's sentence, printed in the table's 总体要求 column "
        "(its 基本要求 column holds the item's code, name and points)",
    )
    standard_points: tuple[str, ...] = Field((), description="numbered points (1)-(4) of 标准内容")
    guidance: tuple[GuidancePoint, ...] = ()
    sub_items: tuple[SubItem, ...] = ()


class Category(_Frozen):
    """类目 (x)."""

    code: str
    name: str = Field(min_length=1)
    detail_name: str | None = Field(None, description="name used in 评审细则 where it differs")
    points: int = Field(gt=0)
    description: str | None = Field(None, description="说明 of the category")
    items: tuple[Item, ...] = Field(min_length=1)


class Band(_Frozen):
    """One range of a scoring guide, in percent, closed at both ends."""

    min: int = Field(ge=0, le=100)
    max: int = Field(ge=0, le=100)
    level: str | None = Field(None, description="level name such as 一般水平, where given")
    descriptors: tuple[str, ...] = Field(min_length=1)

    @property
    def label(self) -> str:
        rng = f"{self.min}–{self.max}%"
        return f"{self.level} {rng}" if self.level else rng


class NoteTerm(_Frozen):
    """One term a guide's 注 defines, e.g. 少量 = 少于15%."""

    term: str = Field(min_length=1, description="the word as used in the band descriptors, e.g. 少量")
    meaning: str = Field(
        min_length=1, description="its meaning as published, after the dash, e.g. 少于15% or 高于行业平均水平"
    )
    above_pct: int | None = Field(
        None,
        ge=0,
        le=100,
        description="quantity terms: the published lower bound 大于 N% (exclusive), else null",
    )
    below_pct: int | None = Field(
        None,
        ge=0,
        le=100,
        description="quantity terms: the published upper bound 小于/少于 N% (exclusive), else null",
    )


class NoteGroup(_Frozen):
    """One numbered entry of a guide's 注: what its terms are relative to, and the terms."""

    concept: Literal["quantity", "quality"] = Field(description="quantity (定量概念) or quality (定性术语)")
    basis: str = Field(min_length=1, description="the entry's lead as published, e.g. 定量概念相对于总量而言")
    terms: tuple[NoteTerm, ...] = Field(min_length=1)


class GuideNote(_Frozen):
    """注 printed under a scoring guide: the quantity and quality words its bands use."""

    text: str = Field(min_length=1, description="the note as published, without 注：, one line per entry")
    groups: tuple[NoteGroup, ...] = Field(min_length=1, description="the same note, structured, in order")

    def terms(self) -> tuple[NoteTerm, ...]:
        """Every defined term, in the order printed."""
        return tuple(t for g in self.groups for t in g.terms)


class Guide(_Frozen):
    """过程评分指南 or 结果评分指南."""

    title: str
    bands: tuple[Band, ...] = Field(min_length=2)
    note: GuideNote | None = Field(None, description="注 printed under this guide (economic result guide)")

    def note_terms(self) -> tuple[NoteTerm, ...]:
        """The terms this guide's 注 defines (empty without a note)."""
        return self.note.terms() if self.note else ()

    def note_terms_in(self, band: Band) -> tuple[NoteTerm, ...]:
        """The note's terms that occur in the band's descriptors, in note order (see :func:`terms_in`)."""
        return terms_in(band.descriptors, self.note_terms())


def terms_in(texts: tuple[str, ...], terms: tuple[NoteTerm, ...]) -> tuple[NoteTerm, ...]:
    """The terms that occur in the texts, in the order given.

    Longest match first, so 大多数 does not also count as 多数.  A plain text match:
    部分 in 各部分 or 良好 in 趋势良好 count too.
    """
    by_length = sorted(terms, key=lambda t: -len(t.term))
    found: set[str] = set()
    for text in texts:
        i = 0
        while i < len(text):
            hit = next((t for t in by_length if text.startswith(t.term, i)), None)
            if hit is None:
                i += 1
            else:
                found.add(hit.term)
                i += len(hit.term)
    return tuple(t for t in terms if t.term in found)


class Guides(_Frozen):
    process: Guide
    result: Guide


class ProfileVariant(_Frozen):
    applies_to: Literal["any", "organisation", "project"]
    text: str = Field(min_length=1)


class TextPart(_Frozen):
    """A run of a published paragraph, read by every applicant or by one kind only."""

    applies_to: AppliesTo = Field(
        "any", description="any, or the one applicant kind (organisation / project) this run is written for"
    )
    text: str = Field(min_length=1, description="the run exactly as published")

    def applies(self, applicant_kind: ApplicantKind | None) -> bool:
        return applicant_kind is None or self.applies_to in ("any", applicant_kind)


class Paragraph(_Frozen):
    """One published paragraph as consecutive runs; joined without a separator they are the paragraph."""

    parts: tuple[TextPart, ...] = Field(min_length=1)

    @property
    def text(self) -> str:
        """The paragraph as published, every run included."""
        return "".join(p.text for p in self.parts)

    def text_for(self, applicant_kind: ApplicantKind | None = None) -> str:
        """The paragraph as an organisation or a project reads it (None: as published)."""
        return "".join(p.text for p in self.parts if p.applies(applicant_kind))


class DetailIntro(_Frozen):
    """The introduction of 评审细则: what 基本要求 / 总体要求 / 要点指引 are and how to read them."""

    title: str = Field(min_length=1, description="评审细则")
    paragraphs: tuple[Paragraph, ...] = Field(min_length=1)


class ScoringFactor(_Frozen):
    """One evaluation factor named by 评分原则: A-D-L-I for processes, Le-T-C-I for results."""

    code: str = Field(min_length=1, description="the letters as printed: A, D, L, I or Le, T, C, I")
    name: str = Field(min_length=1, description="e.g. 方法")
    name_en: str = Field(min_length=1, description="e.g. Approach")


class ScoringPrinciples(_Frozen):
    """附录一 1．评分原则: how process and result units are judged."""

    title: str = Field(min_length=1, description="评分原则")
    paragraphs: tuple[Paragraph, ...] = Field(min_length=1)
    considerations: tuple[str, ...] = Field(
        (), description="economic: the requirements listed after 评价中要考虑以下要求：, one per bullet"
    )
    process_factors: tuple[ScoringFactor, ...] = Field(
        (), description="economic: 方法/展开/学习/整合 (A-D-L-I)"
    )
    result_factors: tuple[ScoringFactor, ...] = Field(
        (), description="economic: 水平/趋势/对比/整合 (Le-T-C-I)"
    )

    def factors(self, kind: Kind) -> tuple[ScoringFactor, ...]:
        return self.process_factors if kind == "process" else self.result_factors


class Profile(_Frozen):
    """0.组织简介 / 0.简介: not scored, but examiners read it first."""

    title: str
    note: str | None = None
    variants: tuple[ProfileVariant, ...] = Field(min_length=1)


class CoreValue(_Frozen):
    title: str
    text: str


class Term(_Frozen):
    """An entry of 附录二 关键术语."""

    term: str = Field(min_length=1)
    term_en: str | None = None
    definition: str = Field(min_length=1)


@dataclass(frozen=True)
class ScoringUnit:
    """A flat view of one scoring unit, whatever the family of the standard."""

    code: str
    name: str
    points: int
    kind: Kind
    category_code: str
    category_name: str
    item_code: str
    item_name: str
    requirement: str
    standard_points: tuple[str, ...]
    guidance: tuple[GuidancePoint, ...]


class Standard(_Frozen):
    """One award category's standard (评定标准), worth 500 points."""

    id: AwardId
    name_zh: str = Field(description="e.g. 经济类")
    title: str
    edition: str = Field(min_length=1)
    grid_step: int = Field(5, gt=0, le=50)
    total_points: Literal[500] = 500
    scoring_unit: Literal["item", "sub_item"]
    applicant_kinds: tuple[ApplicantKind, ...] = Field(min_length=1)
    profile: Profile
    core_values: tuple[CoreValue, ...] = ()
    detail_intro: DetailIntro | None = Field(None, description="introduction of 评审细则 (how to read it)")
    categories: tuple[Category, ...] = Field(min_length=1)
    scoring_principles: ScoringPrinciples | None = Field(None, description="附录一 1．评分原则")
    guides: Guides
    glossary: tuple[Term, ...] = ()

    # -- derived views ---------------------------------------------------------

    def units(self) -> tuple[ScoringUnit, ...]:
        """Every scoring unit in standard order."""
        out: list[ScoringUnit] = []
        for cat in self.categories:
            for item in cat.items:
                if self.scoring_unit == "item":
                    assert item.kind is not None
                    out.append(
                        ScoringUnit(
                            code=item.code,
                            name=item.name,
                            points=item.points,
                            kind=item.kind,
                            category_code=cat.code,
                            category_name=cat.name,
                            item_code=item.code,
                            item_name=item.name,
                            requirement=item.requirement or item.description or "",
                            standard_points=item.standard_points,
                            guidance=item.guidance,
                        )
                    )
                else:
                    for sub in item.sub_items:
                        out.append(
                            ScoringUnit(
                                code=sub.code,
                                name=sub.name,
                                points=sub.points,
                                kind=sub.kind,
                                category_code=cat.code,
                                category_name=cat.name,
                                item_code=item.code,
                                item_name=item.name,
                                requirement=sub.description,
                                standard_points=(),
                                guidance=sub.guidance,
                            )
                        )
        return tuple(out)

    def unit(self, code: str) -> ScoringUnit:
        for u in self.units():
            if u.code == code:
                return u
        raise KeyError(code)

    def guide(self, kind: Kind) -> Guide:
        return self.guides.process if kind == "process" else self.guides.result

    def grid(self) -> tuple[int, ...]:
        return tuple(range(0, 101, self.grid_step))

    def _kind_ok(self, applicant_kind: ApplicantKind | None) -> None:
        if applicant_kind is not None and applicant_kind not in self.applicant_kinds:
            raise ValueError(
                f"{self.id} is awarded to {', '.join(self.applicant_kinds)}, not {applicant_kind!r}"
            )

    def reading_intro(self, applicant_kind: ApplicantKind | None = None) -> tuple[str, ...]:
        """The 评审细则 introduction's paragraphs as an organisation or project reads them.

        None gives every paragraph as published; empty when the standard has no introduction.
        """
        self._kind_ok(applicant_kind)
        if self.detail_intro is None:
            return ()
        texts = (p.text_for(applicant_kind) for p in self.detail_intro.paragraphs)
        return tuple(t for t in texts if t)

    def principles_text(self, applicant_kind: ApplicantKind | None = None) -> tuple[str, ...]:
        """The 评分原则 paragraphs as an organisation or project reads them (None: as published)."""
        self._kind_ok(applicant_kind)
        if self.scoring_principles is None:
            return ()
        texts = (p.text_for(applicant_kind) for p in self.scoring_principles.paragraphs)
        return tuple(t for t in texts if t)

    # -- checks ----------------------------------------------------------------

    @model_validator(mode="after")
    def _check(self) -> Standard:
        problems = list(_problems(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _problems(std: Standard):
    """Yield one message per rule the standard breaks, naming the field."""
    seen: set[str] = set()

    def code_ok(where: str, code: str, parent: str | None, depth: int):
        if not _CODE_RE.match(code) or code.count(".") != depth:
            yield f"{where}.code: {code!r} is not a well-formed code of depth {depth + 1}"
        elif parent is not None and not code.startswith(parent + "."):
            yield f"{where}.code: {code!r} does not belong to {parent!r}"
        if code in seen:
            yield f"{where}.code: {code!r} is used twice"
        seen.add(code)

    def same_as(where: str, second: str | None, first: str | None, field: str, of: str):
        if second is not None and _squash(second) == _squash(first or ""):
            yield f"{where}.{field}: same as {of}; leave it null"

    total = 0
    for ci, cat in enumerate(std.categories):
        cw = f"categories[{ci}]"
        yield from code_ok(cw, cat.code, None, 0)
        yield from same_as(cw, cat.detail_name, cat.name, "detail_name", "name")
        total += cat.points
        item_sum = sum(i.points for i in cat.items)
        if item_sum != cat.points:
            yield f"{cw}.points: {cat.code} {cat.name} is {cat.points} but its items sum to {item_sum}"
        for ii, item in enumerate(cat.items):
            iw = f"{cw}.items[{ii}]"
            yield from code_ok(iw, item.code, cat.code, 1)
            yield from same_as(iw, item.detail_name, item.name, "detail_name", "name")
            yield from same_as(iw, item.detail_text, item.description, "detail_text", "description")
            if std.scoring_unit == "item":
                if item.kind is None:
                    yield f"{iw}.kind: scoring unit {item.code} has no kind (process/result)"
                if not item.guidance:
                    yield f"{iw}.guidance: scoring unit {item.code} has no guidance points"
                if item.sub_items:
                    yield f"{iw}.sub_items: {item.code} has sub-items but the scoring unit is the item"
            else:
                if not item.sub_items:
                    yield f"{iw}.sub_items: {item.code} has no sub-items"
                    continue
                sub_sum = sum(s.points for s in item.sub_items)
                if sub_sum != item.points:
                    yield f"{iw}.points: {item.code} {item.name} is {item.points} but its sub-items sum to {sub_sum}"
                for si, sub in enumerate(item.sub_items):
                    sw = f"{iw}.sub_items[{si}]"
                    yield from code_ok(sw, sub.code, item.code, 2)
                    yield from same_as(sw, sub.detail_name, sub.name, "detail_name", "name")
                    for gi, g in enumerate(sub.guidance):
                        if g.code is not None and not g.code.startswith(sub.code + "."):
                            yield f"{sw}.guidance[{gi}].code: {g.code!r} does not belong to {sub.code}"
    if total != std.total_points:
        yield f"categories: points sum to {total}, not {std.total_points}"

    step = std.grid_step
    if 100 % step:
        yield f"grid_step: {step} does not divide 100"
    for kind in ("process", "result"):
        guide = std.guide(kind)
        gw = f"guides.{kind}.bands"
        bands = guide.bands
        for bi, b in enumerate(bands):
            if b.min % step or b.max % step:
                yield f"{gw}[{bi}]: range {b.min}–{b.max} is not on the {step}% grid"
            if b.min > b.max:
                yield f"{gw}[{bi}]: range {b.min}–{b.max} is reversed"
        if bands[0].min != 0:
            yield f"{gw}[0].min: the guide starts at {bands[0].min}, not 0"
        if bands[-1].max != 100:
            yield f"{gw}[{len(bands) - 1}].max: the guide ends at {bands[-1].max}, not 100"
        for bi in range(1, len(bands)):
            prev, cur = bands[bi - 1], bands[bi]
            if cur.min not in (prev.max, prev.max + step):
                yield f"{gw}[{bi}].min: gap or overlap between {prev.min}–{prev.max} and {cur.min}–{cur.max}"
        if guide.note is not None:
            yield from _note_problems(f"guides.{kind}.note", guide.note)

    passages = (("detail_intro", std.detail_intro), ("scoring_principles", std.scoring_principles))
    for name, passage in passages:
        if passage is None:
            continue
        for pi, para in enumerate(passage.paragraphs):
            pw = f"{name}.paragraphs[{pi}]"
            for ti, part in enumerate(para.parts):
                if part.applies_to != "any" and part.applies_to not in std.applicant_kinds:
                    yield f"{pw}.parts[{ti}].applies_to: {std.id} is not awarded to {part.applies_to!r}"
            for kind in std.applicant_kinds:
                if not para.text_for(kind):
                    yield f"{pw}.parts: nothing in this paragraph applies to {kind!r}"


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _note_problems(where: str, note: GuideNote):
    """The structured terms must say what the published note says."""
    text = _squash(note.text)
    seen: set[str] = set()
    for gi, group in enumerate(note.groups):
        gw = f"{where}.groups[{gi}]"
        if _squash(group.basis) not in text:
            yield f"{gw}.basis: {group.basis!r} is not in the note's text"
        for ti, t in enumerate(group.terms):
            tw = f"{gw}.terms[{ti}]"
            if t.term in seen:
                yield f"{tw}.term: {t.term!r} is defined twice"
            seen.add(t.term)
            if _squash(f"{t.term}-{t.meaning}") not in text:
                yield f"{tw}: {t.term}-{t.meaning} is not in the note's text"
            meaning = _squash(t.meaning)
            above = re.search(r"大于(\d+)%", meaning)
            below = re.search(r"(?:小于|少于|低于)(\d+)%", meaning)
            if t.above_pct != (int(above[1]) if above else None):
                yield f"{tw}.above_pct: {t.above_pct} is not what {t.meaning!r} says"
            if t.below_pct != (int(below[1]) if below else None):
                yield f"{tw}.below_pct: {t.below_pct} is not what {t.meaning!r} says"
            if t.above_pct is not None and t.below_pct is not None and t.above_pct >= t.below_pct:
                yield f"{tw}: range {t.above_pct}–{t.below_pct}% is reversed"
            if group.concept == "quality" and (t.above_pct is not None or t.below_pct is not None):
                yield f"{tw}: a quality term has no percentage range"
