"""What changed between two editions of a standard: what a secretariat checks first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from szqa_xl.standards.models import Standard


@dataclass(frozen=True)
class Change:
    kind: str  # added | removed | points | kind | meta | text | value | text added | text removed | …
    where: str  # unit code or field path
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        if self.kind == "added":
            return f"+ {self.where} added ({self.new})"
        if self.kind == "removed":
            return f"- {self.where} removed ({self.old})"
        if self.kind == "points":
            return f"~ {self.where} points {self.old} → {self.new}"
        if self.kind.endswith("added"):
            return f"+ {self.where} {self.kind}:\n    + {self.new}"
        if self.kind.endswith("removed"):
            return f"- {self.where} {self.kind}:\n    - {self.old}"
        return f"~ {self.where} {self.kind} changed:\n    - {self.old}\n    + {self.new}"


def _list_keys(items: list | tuple, path: str) -> list[Any]:
    """How each entry of a list is named in a path: its code; the terms of a guide's 注 by their
    term (…note.groups[0].terms[少量].meaning) when distinct; anything else by its index."""
    terms = [v.get("term") if isinstance(v, dict) else None for v in items]
    by_term = (
        ".note.groups[" in path
        and path.endswith("].terms")
        and all(isinstance(t, str) and t for t in terms)
        and len(set(terms)) == len(terms)
    )
    keys: list[Any] = []
    for i, v in enumerate(items):
        key = v.get("code") if isinstance(v, dict) else None
        keys.append(key or (terms[i] if by_term else i))
    return keys


def _leaves(obj: Any, path: str):
    """Every scalar leaf under a dumped model, with a path keyed by code (or note term) where there is one.

    Reaches every field, so the 评审细则 introduction (detail_intro.paragraphs[n].parts[m].text),
    the 评分原则 (scoring_principles...) and a guide's 注 (guides.result.note.groups[n].terms[少量]...)
    are compared like any other text.
    """
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(obj, (list, tuple)):
        for key, v in zip(_list_keys(obj, path), obj, strict=True):
            yield from _leaves(v, f"{path}[{key}]")
    else:
        yield path, obj


def diff_standards(a: Standard, b: Standard) -> list[Change]:
    """Units added/removed, points and kinds changed, and every other changed value, in order."""
    changes: list[Change] = []
    for field in ("id", "edition", "grid_step", "scoring_unit"):
        if getattr(a, field) != getattr(b, field):
            changes.append(Change("meta", field, getattr(a, field), getattr(b, field)))
    ua = {u.code: u for u in a.units()}
    ub = {u.code: u for u in b.units()}
    reported: set[str] = set()  # unit codes whose addition/removal covers all their fields
    for code, u in ua.items():
        if code not in ub:
            changes.append(Change("removed", code, old=f"{u.name} {u.points}分"))
            reported.add(code)
    for code, u in ub.items():
        if code not in ua:
            changes.append(Change("added", code, new=f"{u.name} {u.points}分"))
            reported.add(code)
    unit_fields: set[str] = set()
    for code in ua.keys() & ub.keys():
        if ua[code].points != ub[code].points:
            changes.append(Change("points", code, ua[code].points, ub[code].points))
            unit_fields.add(f"[{code}].points")
        if ua[code].kind != ub[code].kind:
            changes.append(Change("kind", code, ua[code].kind, ub[code].kind))
            unit_fields.add(f"[{code}].kind")
    skip = {"id", "edition", "grid_step", "scoring_unit"}
    la = dict(_leaves(a.model_dump(mode="json"), ""))
    lb = dict(_leaves(b.model_dump(mode="json"), ""))

    def covered(path: str) -> bool:
        return (
            path in skip
            or any(path.endswith(f) for f in unit_fields)
            or any(f"[{code}]" in path for code in reported)
        )

    for path in list(la) + [p for p in lb if p not in la]:
        if covered(path):
            continue
        old, new = la.get(path, _MISSING), lb.get(path, _MISSING)
        if old == new:
            continue
        if old is _MISSING:
            changes.append(Change("text added" if isinstance(new, str) else "value added", path, None, new))
        elif new is _MISSING:
            changes.append(
                Change("text removed" if isinstance(old, str) else "value removed", path, old, None)
            )
        else:
            changes.append(
                Change("text" if isinstance(old, str) or isinstance(new, str) else "value", path, old, new)
            )
    return changes


_MISSING = object()
