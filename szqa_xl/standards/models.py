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
    points: int = Field(gt=0)
    kind: Kind
    description: str = Field(min_length=1, description="标准内容 text of the sub-item")
    guidance: tuple[GuidancePoint, ...] = Field(min_length=1)


class Item(_Frozen):
    """条目 (x.y).  In the economic standard the item itself is the scoring unit."""

    code: str
    name: str = Field(min_length=1)
    points: int = Field(gt=0)
    description: str | None = Field(None, description="标准内容 lead sentence of the item")
    kind: Kind | None = None
    requirement: str | None = Field(None, description="基本要求 (economic 评审细则)")
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


class Guide(_Frozen):
    """过程评分指南 or 结果评分指南."""

    title: str
    bands: tuple[Band, ...] = Field(min_length=2)


class Guides(_Frozen):
    process: Guide
    result: Guide


class ProfileVariant(_Frozen):
    applies_to: Literal["any", "organisation", "project"]
    text: str = Field(min_length=1)


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
    categories: tuple[Category, ...] = Field(min_length=1)
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

    total = 0
    for ci, cat in enumerate(std.categories):
        cw = f"categories[{ci}]"
        yield from code_ok(cw, cat.code, None, 0)
        total += cat.points
        item_sum = sum(i.points for i in cat.items)
        if item_sum != cat.points:
            yield f"{cw}.points: {cat.code} {cat.name} is {cat.points} but its items sum to {item_sum}"
        for ii, item in enumerate(cat.items):
            iw = f"{cw}.items[{ii}]"
            yield from code_ok(iw, item.code, cat.code, 1)
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
