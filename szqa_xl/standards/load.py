"""Loading award standards from YAML, and their canonical fingerprint."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from szqa_xl.standards.models import AWARD_IDS, Standard

STANDARDS_DIR = Path(__file__).resolve().parent.parent / "data" / "standards"
"""Standards shipped inside the package (a copy of the top-level ``standards/``)."""

FILE_NAMES: dict[str, str] = {
    "economic": "economic.yaml",
    "culture": "culture.yaml",
    "social": "social.yaml",
    "ecology": "ecology.yaml",
    "management": "management.yaml",
    "service": "service.yaml",
}


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: 10x faster


class StandardError(ValueError):
    """A standard file that cannot be used; the message names the file and field."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def _standards_dir() -> Path:
    """The repository's ``standards/`` when running from a checkout, else the packaged copy."""
    repo = Path(__file__).resolve().parent.parent.parent / "standards"
    if (repo / "economic.yaml").is_file():
        return repo
    return STANDARDS_DIR


def load_standard(path: Path | str) -> Standard:
    """Read and check one standard file; raise StandardError naming the file and field."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise StandardError(path, [f"cannot read: {exc}"]) from None
    if not isinstance(raw, dict):
        raise StandardError(path, ["top level is not a mapping"])
    try:
        return Standard.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{loc}: {msg}" if loc else msg)
        raise StandardError(path, problems) from None


@cache
def builtin_standard(award_id: str) -> Standard:
    """The shipped standard of one award category (economic, culture, …)."""
    if award_id not in FILE_NAMES:
        raise KeyError(f"unknown award category {award_id!r}; expected one of {', '.join(AWARD_IDS)}")
    return load_standard(builtin_standard_path(award_id))


def builtin_standard_path(award_id: str) -> Path:
    """The YAML file of the shipped standard of one award category (for archiving it as it is)."""
    if award_id not in FILE_NAMES:
        raise KeyError(f"unknown award category {award_id!r}; expected one of {', '.join(AWARD_IDS)}")
    return _standards_dir() / FILE_NAMES[award_id]


def builtin_standards() -> list[Standard]:
    return [builtin_standard(a) for a in AWARD_IDS]


def resolve_standard(ref: str) -> Standard:
    """An award id, a Chinese name (经济类 / 经济), or a path to a YAML file."""
    if ref in FILE_NAMES:
        return builtin_standard(ref)
    for std in builtin_standards():
        if ref in (std.name_zh, std.name_zh.removesuffix("类")):
            return std
    if not Path(ref).exists() and not ref.endswith((".yaml", ".yml", ".json")):
        raise KeyError(
            f"unknown award category {ref!r}; expected one of {', '.join(AWARD_IDS)}, 经济类 …, or a YAML path"
        )
    return load_standard(ref)


def canonical_json(std: Standard) -> str:
    """Key-sorted, whitespace-free JSON of the standard's content."""
    return json.dumps(std.model_dump(mode="json"), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def fingerprint(std: Standard) -> str:
    """SHA-256 of the canonical content: identifies an edition exactly."""
    return hashlib.sha256(canonical_json(std).encode("utf-8")).hexdigest()


@cache
def builtin_fingerprint(award_id: str) -> str:
    """The fingerprint of the shipped standard of one award category, computed once a process (every
    scoresheet, return and panel workbook carries it; each computation serialises the whole standard)."""
    return fingerprint(builtin_standard(award_id))


def schema_json() -> str:
    """The JSON Schema of a standard file, as written to ``standards/schema.json``."""
    return json.dumps(Standard.model_json_schema(), ensure_ascii=False, indent=2) + "\n"
