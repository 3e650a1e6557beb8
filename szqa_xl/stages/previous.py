"""The previous stage's consensus, read from the ``consensus_units.csv`` that ``szqa finalize`` writes:
it seeds a later stage's scoresheets (上阶段共识, 核查要点)."""

from __future__ import annotations

import csv
from pathlib import Path

from szqa_xl.scoresheet.layout import PreviousStage, PreviousUnit
from szqa_xl.xlsx.textsafe import FORMULA_LEADS

UNITS_FILE = "consensus_units.csv"


def _text(v: str | None) -> str:
    """A cell as written by ``csv_safe``: a leading ' that only guards a formula lead is taken off."""
    v = v or ""
    return v[1:] if v.startswith("'") and v[1:2] and v[1] in "".join(FORMULA_LEADS) else v


def read_previous(path: Path | str) -> dict[tuple[str, str], PreviousStage]:
    """(award category, applicant id) -> that applicant's previous-stage consensus.

    ``path`` is a results folder (holding consensus_units.csv) or the file itself."""
    path = Path(path)
    if path.is_dir():
        path = path / UNITS_FILE
    out: dict[tuple[str, str], dict] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            key = (row["award_category"], row["applicant_id"])
            entry = out.setdefault(key, {"stage": row["stage"], "units": {}})
            pct = row.get("pct") or ""
            entry["units"][row["unit"]] = PreviousUnit(
                float(pct) if pct else None,
                _text(row.get("band")),
                _text(row.get("strengths")),
                _text(row.get("ofi")),
            )
    return {k: PreviousStage(v["stage"], v["units"]) for k, v in out.items()}
