"""The package reads as the award cycle: subpackages with one job each, no import cycles, the pure core
importing no orchestration."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "szqa_xl"
CORE = ("szqa_xl.standards", "szqa_xl.scoresheet", "szqa_xl.xlsx")
"""Pure core: turns standards into plans and plans into files; knows nothing of returns or Excel."""
ORCHESTRATION = ("szqa_xl.consolidation", "szqa_xl.excel", "szqa_xl.cli", "szqa_xl.demo", "szqa_xl.udfs")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """szqa_xl modules a module imports when it is imported (not those imported inside functions)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("szqa_xl")}


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py") if "data" not in p.parts}
GRAPH = {m: {i for i in top_level_imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(GRAPH[m]):
            if state.get(n) == 1:
                cycles.append(path[path.index(n) :] + [n] if n in path else [m, n])
            elif n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


@pytest.mark.parametrize("core", CORE)
def test_pure_core_imports_no_orchestration(core: str) -> None:
    offenders = {
        (m, i)
        for m, deps in GRAPH.items()
        if m.startswith(core)
        for i in deps
        if i.startswith(ORCHESTRATION) or i.startswith("szqa_xl.returns")
    }
    assert not offenders, sorted(offenders)


def test_importing_the_package_imports_no_module_twice() -> None:
    """``python -c "import szqa_xl"`` and every public name: each module is imported once, and nothing
    heavy (pandas, openpyxl, XlsxWriter) comes with ``import szqa_xl`` itself."""
    code = (
        "import sys, szqa_xl\n"
        "light = not any(m in sys.modules for m in ('pandas', 'openpyxl', 'xlsxwriter'))\n"
        "for name in szqa_xl.__all__: getattr(szqa_xl, name)\n"
        "print(light)\n"
    )
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "True"
    imported = [line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line]
    ours = [m for m in imported if m.startswith("szqa_xl")]
    assert len(ours) == len(set(ours)), sorted({m for m in ours if ours.count(m) > 1})


def test_public_api_is_what_the_readme_lists() -> None:
    import szqa_xl

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in szqa_xl.__all__:
        assert f"`{name}`" in readme or f" {name}," in readme or f" {name})" in readme, name
