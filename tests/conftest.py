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


# --- LibreOffice (used by tests/test_scoresheet.py and the other scoresheet tests) ---
# Tests that recalculate or print a workbook in LibreOffice headless skip when
# soffice is not installed, unless SZQA_REQUIRE_LIBREOFFICE=1 (CI), which turns the
# skip into a failure.

LIBREOFFICE_MISSING = "LibreOffice (soffice) not found on PATH"


@pytest.fixture(scope="session")
def require_soffice() -> str:
    """Path of the soffice binary; skip (or fail, see above) when it is missing."""
    from szqa_xl.xlsx.libreoffice import soffice

    exe = soffice()
    if exe is None:
        if os.environ.get("SZQA_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail(f"{LIBREOFFICE_MISSING} and SZQA_REQUIRE_LIBREOFFICE=1", pytrace=False)
        pytest.skip(LIBREOFFICE_MISSING)
    return exe


RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""
"""LibreOffice's "Recalculation on file load → Excel 2007 and newer: Always recalculate".  Its default
("Never recalculate") shows a formula's cached value, i.e. 60 in H5 for every ``formula-*`` case and
the original text or points for every ``locked-formula-*`` case; recalculated, LibreOffice shows
what the formulas compute, as Excel does for these files (their workbook.xml says
fullCalcOnLoad="1") and as LibreOffice does after a hard recalculation.  The other cases show the
same in both modes."""


def recalculating_profile(profile: Path) -> Path:
    """``profile`` made a LibreOffice user profile that recalculates every xlsx on load (``RECALC_ALWAYS``)."""
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS, encoding="utf-8")
    return profile


def run_soffice(soffice: str, files, fmt: str, outdir: Path, profile: Path, timeout: float = 600):
    """One headless ``soffice --convert-to`` run over many files, with a private profile (so it neither
    touches nor waits for a user's LibreOffice); the completed process."""
    import subprocess

    cmd = [
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        fmt,
        "--outdir",
        str(outdir),
        *map(str, files),
    ]
    env = dict(os.environ, HOME=str(profile))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def lo_convert(require_soffice: str, tmp_path_factory: pytest.TempPathFactory):
    """``convert(files, fmt, outdir) -> [paths]``: many files in ONE soffice run.

    Uses a private profile (-env:UserInstallation) so it neither touches nor waits for
    a user's LibreOffice.  ``fmt`` is a --convert-to argument such as "xlsx" or "pdf";
    a re-saved xlsx has every formula recalculated.
    """

    def convert(files: list[Path], fmt: str, outdir: Path, timeout: float = 600) -> list[Path]:
        outdir.mkdir(parents=True, exist_ok=True)
        stems = [Path(f).stem for f in files]
        assert len(set(stems)) == len(stems), "file names must differ: outputs share one folder"
        profile = tmp_path_factory.mktemp("lo-profile")
        proc = run_soffice(require_soffice, files, fmt, outdir, profile, timeout)
        outs = [outdir / f"{stem}.{fmt.split(':')[0]}" for stem in stems]
        missing = [p.name for p in outs if not p.exists()]
        assert proc.returncode == 0 and not missing, (
            f"soffice --convert-to {fmt} failed (exit {proc.returncode}); missing {missing}\n"
            f"{proc.stdout}\n{proc.stderr}"
        )
        return outs

    return convert


# --- end of LibreOffice --------------------------------------------------------


# --- hostile and broken input (used by tests/test_hostile.py, tests/test_fuzz.py) ----------
# Good scoresheets are generated and filled once per session; every bad file is built from
# them inside the tests (tests/hostile_files.py), never committed.  hostile_files is
# registered for assertion rewriting so its shared batch checks explain their failures.

pytest.register_assert_rewrite("hostile_files")


@pytest.fixture(scope="session")
def hostile_kit(tmp_path_factory):
    from hostile_files import build_kit

    return build_kit(tmp_path_factory.mktemp("hostile_kit"))


# --- end of hostile and broken input ---------------------------------------------------------


@pytest.fixture(scope="session")
def demo_year(tmp_path_factory: pytest.TempPathFactory):
    """One run of ``run_demo`` (two stages, results, final ranking, archive) shared by the tests that only
    read it; a test that changes a file works on its own copy."""
    from szqa_xl.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("demo-year") / "demo")
