"""szqa-xl: Excel scoresheets and consolidation for the Shenzhen Mayor's Quality Award.

The package follows the award cycle:

- ``standards``: the six award standards as data (models, loading, diff, fingerprint, band grid);
- ``scoresheet``: roster, sheet layout (a plan), generating the examiners' files and templates;
- ``returns``: returned files opened safely (package, XML parts, bounded workers) and validated;
- ``consolidation``: statistics, panel agreement, the consolidated workbook's plan, the outputs;
- ``consensus``: the panels' consensus workbooks, reading them back, results, feedback reports;
- ``stages``: shortlists, the next stage's seeded scoresheets, the final ranking, the year's archive;
- ``xlsx``: the plan, the one writer, text safety, atomic files;
- ``excel``: the secretariat workbook and the xlwings converters;

with ``cli``, ``demo`` and ``udfs`` (the shells) on top.  The public names below are loaded
on first use, so ``import szqa_xl`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "builtin_standard": "szqa_xl.standards.load",
    "load_standard": "szqa_xl.standards.load",
    "fingerprint": "szqa_xl.standards.load",
    "read_roster": "szqa_xl.scoresheet.roster",
    "generate": "szqa_xl.scoresheet.generate",
    "plan_scoresheet": "szqa_xl.scoresheet.layout",
    "read_return": "szqa_xl.returns.reader",
    "check_issue": "szqa_xl.returns.reader",
    "consolidate_dir": "szqa_xl.consolidation.batch",
    "write_outputs": "szqa_xl.consolidation.batch",
    "write_panels": "szqa_xl.consensus.build",
    "write_all": "szqa_xl.consensus.build",
    "finalize_dir": "szqa_xl.consensus.finalize",
    "finalize_outputs": "szqa_xl.consensus.results",
    "render": "szqa_xl.xlsx.writer",
    "run_demo": "szqa_xl.demo",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'szqa_xl' has no attribute {name!r}")
