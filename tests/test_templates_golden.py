"""The committed blank templates (workbook/templates/) equal what the code generates now.

Each template is compared part by part (every file inside the .xlsx zip), after
removing what changes from run to run: only the created/modified timestamps in
docProps/core.xml (generating twice differs in nothing else).  When a layout or
standard change makes them differ, rebuild with ``szqa build-workbooks``.
"""

from __future__ import annotations

import difflib
import re
import zipfile
from pathlib import Path
from xml.etree.ElementTree import canonicalize

import pytest

from szqa_xl.scoresheet.templates import build_templates, template_name
from szqa_xl.standards.models import AWARD_IDS

TEMPLATES = Path(__file__).resolve().parent.parent / "workbook" / "templates"
REBUILD = "run `szqa build-workbooks` to regenerate workbook/templates/ and commit the result"
_VOLATILE = {
    "docProps/core.xml": re.compile(r"<dcterms:(created|modified)\b[^>]*>[^<]*</dcterms:\1>"),
}


def normalised(part: str, data: bytes) -> str:
    """Canonical XML of a part, without its run-to-run content."""
    if not part.endswith((".xml", ".rels")):
        return data.hex()
    text = canonicalize(data.decode("utf-8"))
    if part in _VOLATILE:
        text = _VOLATILE[part].sub("", text)
    return text


def _lines(xml: str) -> list[str]:
    return xml.replace("><", ">\n<").splitlines()


def template_differences(committed: Path, fresh: Path, max_diff_lines: int = 30) -> list[str]:
    """One message per differing part (with a short unified diff); empty when equal."""
    with zipfile.ZipFile(committed) as a, zipfile.ZipFile(fresh) as b:
        names_a, names_b = set(a.namelist()), set(b.namelist())
        problems = []
        if names_a != names_b:
            problems.append(
                f"{committed.name}: parts differ: only committed {sorted(names_a - names_b)}, "
                f"only generated {sorted(names_b - names_a)}"
            )
        for part in sorted(names_a & names_b):
            old, new = normalised(part, a.read(part)), normalised(part, b.read(part))
            if old == new:
                continue
            diff = list(
                difflib.unified_diff(
                    _lines(old), _lines(new), f"committed/{part}", f"generated/{part}", lineterm="", n=1
                )
            )
            shown = diff[:max_diff_lines] + (
                [f"... ({len(diff) - max_diff_lines} more lines)"] if len(diff) > max_diff_lines else []
            )
            problems.append(f"{committed.name}: part {part} differs:\n" + "\n".join(shown))
    return problems


def golden_report(committed: Path, fresh: Path) -> str | None:
    """The failure message for a stale template, or None when it is up to date."""
    problems = template_differences(committed, fresh)
    return "\n\n".join([*problems, REBUILD]) if problems else None


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("templates")
    build_templates(out)
    return out


def test_committed_templates_are_exactly_the_six_categories():
    assert sorted(p.name for p in TEMPLATES.glob("*.xlsx")) == sorted(template_name(a) for a in AWARD_IDS), (
        REBUILD
    )


@pytest.mark.parametrize("award", AWARD_IDS)
def test_committed_template_matches_generated(fresh, award):
    name = template_name(award)
    committed = TEMPLATES / name
    assert committed.is_file(), f"{committed} is missing; {REBUILD}"
    report = golden_report(committed, fresh / name)
    assert report is None, report


def test_generating_twice_differs_only_in_timestamps(fresh, tmp_path):
    """Guards the list of volatile content above: nothing else may change run to run."""
    again = build_templates(tmp_path)
    for path in again:
        with zipfile.ZipFile(path) as a, zipfile.ZipFile(fresh / path.name) as b:
            changed = [n for n in a.namelist() if a.read(n) != b.read(n)]
        assert set(changed) <= set(_VOLATILE), f"{path.name}: {changed} change between two runs"
        assert template_differences(fresh / path.name, path) == []


def test_a_changed_template_is_reported_by_part_with_a_diff(fresh, tmp_path):
    """What a maintainer sees when a template is stale: the part, a diff, the rebuild hint."""
    name = template_name("culture")
    stale = tmp_path / name
    with zipfile.ZipFile(fresh / name) as src, zipfile.ZipFile(stale, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/sharedStrings.xml":  # where XlsxWriter keeps the sheets' text
                data = data.replace("要点指引".encode(), "要点".encode())
            dst.writestr(item, data)
    assert len(template_differences(stale, fresh / name)) == 1, "only the edited part differs"
    msg = golden_report(stale, fresh / name)
    assert msg is not None
    assert "part xl/sharedStrings.xml differs" in msg
    assert "--- committed/xl/sharedStrings.xml" in msg and "+++ generated/xl/sharedStrings.xml" in msg
    assert "要点指引" in msg and len(msg.splitlines()) < 45, "a short diff, not the whole sheet"
    assert msg.rstrip().endswith(REBUILD) and "szqa build-workbooks" in msg
