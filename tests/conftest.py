"""Shared pytest fixtures."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

# --- seed texts (used by tests/test_standards.py) ------------------------------
# The published standards live in ../shared/seeds beside the checkout.  Tests that
# compare the YAML with them skip when they are absent, unless SZQA_REQUIRE_SEEDS=1
# (CI), which turns the skip into a failure.

SEEDS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
SEEDS_MISSING = "../shared/seeds not found beside the checkout"


def seed_files(seeds_dir: Path = SEEDS_DIR) -> list[Path]:
    """The seed ``*.txt`` files in name order; skip (or fail, see above) when there are none."""
    files = sorted(seeds_dir.glob("*.txt"))
    if not files:
        if os.environ.get("SZQA_REQUIRE_SEEDS") == "1":
            pytest.fail(f"{SEEDS_MISSING} ({seeds_dir}) and SZQA_REQUIRE_SEEDS=1", pytrace=False)
        pytest.skip(SEEDS_MISSING)
    return files


@pytest.fixture(scope="session")
def seed_paths() -> list[Path]:
    return seed_files()


@pytest.fixture(scope="session")
def seeds_text(seed_paths: list[Path]) -> str:
    """All seed files concatenated, with every whitespace character removed."""
    return "".join(re.sub(r"\s+", "", p.read_text(encoding="utf-8")) for p in seed_paths)


# --- end of seed texts ---------------------------------------------------------
