"""LibreOffice headless: recalculate a workbook or render it to PDF (tests, demo, checks)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def soffice() -> str | None:
    """Path of the soffice binary, or None when LibreOffice is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(src: Path | str, fmt: str, outdir: Path | str, timeout: float = 180) -> Path:
    """Run ``soffice --headless --convert-to fmt`` in a private profile; return the output path."""
    exe = soffice()
    if exe is None:
        raise RuntimeError("LibreOffice (soffice) is not installed")
    src, outdir = Path(src), Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="szqa-lo-") as profile:
        cmd = [
            exe,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            str(src),
        ]
        env = dict(os.environ, HOME=profile)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    out = outdir / (src.stem + "." + fmt.split(":")[0])
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"soffice failed on {src}: {proc.stdout} {proc.stderr}")
    return out


def recalculate(src: Path | str, outdir: Path | str) -> Path:
    """A copy of ``src`` re-saved by LibreOffice with every formula recalculated."""
    return convert(src, "xlsx", outdir)


def to_pdf(src: Path | str, outdir: Path | str) -> Path:
    return convert(src, "pdf", outdir)


def to_pdf_many(srcs: list[Path], outdir: Path | str, timeout: float = 600) -> list[Path]:
    """Several files to PDF in one LibreOffice start (it costs seconds each time); the PDFs made."""
    exe = soffice()
    if exe is None:
        raise RuntimeError("LibreOffice (soffice) is not installed")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if not srcs:
        return []
    with tempfile.TemporaryDirectory(prefix="szqa-lo-") as profile:
        cmd = [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
               "--convert-to", "pdf", "--outdir", str(outdir), *map(str, srcs)]  # fmt: skip
        subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, HOME=profile)
        )
    return [p for p in (outdir / (Path(s).stem + ".pdf") for s in srcs) if p.exists()]
