"""What a panel's consensus meeting decided, as plain data: read back from a panel workbook by
:mod:`consensus.finalize`, ranked by :mod:`consensus.results`, written up by :mod:`consensus.feedback`.

Nothing here reads or writes a file.  Scores are percentages on the standard's grid (0–100);
points are ``unit points × pct / 100``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from szqa_xl.standards import grid
from szqa_xl.standards.models import Standard


@dataclass(frozen=True)
class UnitConsensus:
    """One scoring unit as the panel agreed it."""

    code: str
    pct: float | None  # the consensus 得分率 (None: the panel left it empty)
    reason: str = ""  # 共识理由
    strengths: str = ""  # 共识优势 (edited from the examiners' own)
    ofi: str = ""  # 共识改进机会
    median: float | None = None  # the examiners' median % when the workbook was built
    examiner_pcts: tuple[float | None, ...] = ()  # each examiner's %, in examiner order


@dataclass(frozen=True)
class PanelRecord:
    """One applicant's consensus record (共识记录) for one award category and stage."""

    year: str
    award_category: str  # standard id, e.g. "economic"
    stage: str  # 材料评审 / 集中答辩 / 现场核查
    applicant_id: str
    applicant_name: str
    applicant_kind: str  # organisation | project
    units: dict[str, UnitConsensus]  # by unit code, in the standard's order
    examiners: tuple[tuple[str, str], ...] = ()  # (id, name) in column order
    key_themes: str = ""  # 关键主题
    leader: str = ""  # 组长
    signed_on: str = ""  # the sign-off date as written (ISO when a date)
    source_file: str = ""  # the panel workbook it was read from
    source_sha256: str = ""
    built_from: tuple[tuple[str, str], ...] = ()  # (issue id, SHA-256) of every return behind it
    examiner_totals: tuple[float | None, ...] = ()  # each examiner's total (None: incomplete)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.year, self.award_category, self.stage, self.applicant_id)

    def unit_points(self, std: Standard) -> dict[str, float | None]:
        """Consensus points per unit (None where the consensus is missing)."""
        return {
            u.code: (
                None
                if self.units.get(u.code) is None or self.units[u.code].pct is None
                else grid.unit_score(u.points, self.units[u.code].pct)
            )
            for u in std.units()
        }

    def category_points(self, std: Standard) -> dict[str, float]:
        """Consensus points per 类目 code (missing units count 0)."""
        pts = self.unit_points(std)
        out: dict[str, float] = {}
        for u in std.units():
            out[u.category_code] = out.get(u.category_code, 0.0) + (pts[u.code] or 0.0)
        return out

    def total(self, std: Standard) -> float:
        return sum(v or 0.0 for v in self.unit_points(std).values())

    def complete(self, std: Standard) -> bool:
        return all(v is not None for v in self.unit_points(std).values())

    def band_of(self, std: Standard, code: str):
        """The guide band the consensus % of a unit falls in (the higher band at a shared boundary)."""
        unit = std.unit(code)
        uc = self.units.get(code)
        if uc is None or uc.pct is None:
            return None
        bands = [b for b in std.guide(unit.kind).bands if b.min <= uc.pct <= b.max]
        return bands[-1] if bands else None
