"""The ``szqa`` command line: parse, call one library function, report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from . import standards as stdlib
from .diff import diff_standards
from .models import KIND_ZH

app = typer.Typer(
    help="Scoresheets and consolidation for the Shenzhen Mayor's Quality Award (深圳市市长质量奖).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
standards_app = typer.Typer(help="The six award standards as data.", no_args_is_help=True)
app.add_typer(standards_app, name="standards")

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _load(ref: str):
    try:
        return stdlib.resolve_standard(ref)
    except stdlib.StandardError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except KeyError as exc:
        err.print(f"[red]error:[/red] {exc.args[0]}")
        raise typer.Exit(2) from None


@standards_app.command("list")
def standards_list() -> None:
    """List the built-in standards.

    Example: szqa standards list
    """
    table = Table(title="深圳市市长质量奖评定标准")
    for col in ("id", "奖项类别", "评分单元", "总分", "版本", "指纹"):
        table.add_column(col)
    for std in stdlib.builtin_standards():
        units = std.units()
        table.add_row(
            std.id,
            std.name_zh,
            str(len(units)),
            str(sum(u.points for u in units)),
            std.edition,
            stdlib.fingerprint(std)[:12],
        )
    console.print(table)


@standards_app.command("show")
def standards_show(
    ref: str = typer.Argument(..., help="award id (economic…), 经济类, or a YAML path"),
) -> None:
    """Show the outline of one standard: codes, names, points, kind.

    Example: szqa standards show culture
    """
    std = _load(ref)
    console.print(f"{std.title}  ·  {std.edition}  ·  {stdlib.fingerprint(std)[:12]}")
    table = Table()
    for col in ("编号", "名称", "分值", "类型"):
        table.add_column(col)
    for cat in std.categories:
        name = f"{cat.name}（{cat.detail_name}）" if cat.detail_name else cat.name
        table.add_row(f"[bold]{cat.code}[/bold]", f"[bold]{name}[/bold]", str(cat.points), "")
        for item in cat.items:
            kind = KIND_ZH[item.kind] if item.kind else ""
            table.add_row(item.code, "  " + item.name, str(item.points), kind)
            for sub in item.sub_items:
                table.add_row(sub.code, "    " + sub.name, str(sub.points), KIND_ZH[sub.kind])
    console.print(table)
    console.print(f"评分单元 {len(std.units())} 个，合计 {sum(u.points for u in std.units())} 分")


@standards_app.command("diff")
def standards_diff(
    old: Path = typer.Argument(..., help="the edition in use (YAML)"),
    new: Path = typer.Argument(..., help="the new edition (YAML)"),
) -> None:
    """Units added or removed, points changed, text changed between two editions.

    Exit code 0 when identical, 1 when they differ, 2 when a file is invalid.

    Example: szqa standards diff standards/culture.yaml culture-2028.yaml
    """
    a, b = _load(str(old)), _load(str(new))
    changes = diff_standards(a, b)
    for change in changes:
        print(change.describe())
    console.print(f"{len(changes)} change(s)" if changes else "no changes")
    raise typer.Exit(1 if changes else 0)


@standards_app.command("schema")
def standards_schema(
    out: Path | None = typer.Option(None, "--out", "-o", help="write to this file instead of stdout"),
) -> None:
    """Print (or write) the JSON Schema of a standard file.

    Example: szqa standards schema -o standards/schema.json
    """
    text = stdlib.schema_json()
    if out is None:
        print(text, end="")
    else:
        from .atomic import write_text

        write_text(out, text)
        console.print(f"wrote {out}")


def main() -> None:  # pragma: no cover - console entry
    app()
