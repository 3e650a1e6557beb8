"""What changed between two editions of a standard: what a secretariat checks first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .models import Standard


@dataclass(frozen=True)
class Change:
    kind: str  # "added" | "removed" | "points" | "text" | "kind" | "meta"
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
        return f"~ {self.where} {self.kind} changed:\n    - {self.old}\n    + {self.new}"


def _texts(obj: Any, path: str):
    """Every string leaf under a dumped model, with its path."""
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _texts(v, f"{path}.{k}" if path else k)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            key = v.get("code") or v.get("title") or v.get("term") if isinstance(v, dict) else None
            yield from _texts(v, f"{path}[{key or i}]")


def diff_standards(a: Standard, b: Standard) -> list[Change]:
    """Units added/removed, points and kinds changed, and every changed text, in order."""
    changes: list[Change] = []
    for field in ("id", "edition", "grid_step", "scoring_unit"):
        if getattr(a, field) != getattr(b, field):
            changes.append(Change("meta", field, getattr(a, field), getattr(b, field)))
    ua = {u.code: u for u in a.units()}
    ub = {u.code: u for u in b.units()}
    for code, u in ua.items():
        if code not in ub:
            changes.append(Change("removed", code, old=f"{u.name} {u.points}分"))
    for code, u in ub.items():
        if code not in ua:
            changes.append(Change("added", code, new=f"{u.name} {u.points}分"))
    for code in ua.keys() & ub.keys():
        if ua[code].points != ub[code].points:
            changes.append(Change("points", code, ua[code].points, ub[code].points))
        if ua[code].kind != ub[code].kind:
            changes.append(Change("kind", code, ua[code].kind, ub[code].kind))
    ta = dict(_texts(a.model_dump(mode="json", exclude={"edition"}), ""))
    tb = dict(_texts(b.model_dump(mode="json", exclude={"edition"}), ""))
    for path in ta.keys() & tb.keys():
        if (
            ta[path] != tb[path]
            and not path.endswith((".kind", ".code"))
            and path not in ("id", "scoring_unit")
        ):
            changes.append(Change("text", path, ta[path], tb[path]))
    order = {c: i for i, c in enumerate(list(ua) + [c for c in ub if c not in ua])}
    changes.sort(key=lambda c: (order.get(c.where, -1), c.where))
    return changes
