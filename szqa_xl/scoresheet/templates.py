"""The committed ready-made workbooks: blank templates and the secretariat workbook."""

from __future__ import annotations

from pathlib import Path

from szqa_xl.scoresheet.generate import generate_blank
from szqa_xl.standards.load import builtin_standard
from szqa_xl.standards.models import AWARD_IDS


def template_name(award: str) -> str:
    std = builtin_standard(award)
    return f"{std.id}_{std.name_zh}评分表_空白.xlsx"


def build_templates(out_dir: Path | str) -> list[Path]:
    """One blank scoresheet per award category of the current edition."""
    out_dir = Path(out_dir)
    return [generate_blank(a, out_dir / template_name(a)) for a in AWARD_IDS]


def build_workbooks(out_dir: Path | str) -> list[Path]:
    """Everything under ``workbook/``: templates/ and, when available, the secretariat .xlsm."""
    out_dir = Path(out_dir)
    paths = build_templates(out_dir / "templates")
    try:
        from szqa_xl.excel.secretariat import build_secretariat_workbook
    except ImportError:  # pragma: no cover - the xlwings layer is optional at build time
        return paths
    paths.append(build_secretariat_workbook(out_dir / "szqa_secretariat.xlsm"))
    return paths
