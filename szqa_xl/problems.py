"""Problems in user files are data: a code, a message a clerk understands, and where."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    code: str  # short stable identifier, e.g. "off-grid"
    message: str  # Chinese or English sentence for the secretariat
    file: str = ""
    sheet: str = ""
    cell: str = ""
    severity: str = "error"  # "error" rejects the file; "warning" is reported only

    @property
    def where(self) -> str:
        loc = f"{self.sheet}!{self.cell}" if self.sheet and self.cell else self.sheet or self.cell
        return f"{self.file} {loc}".strip()

    def __str__(self) -> str:
        return f"{self.where}: [{self.code}] {self.message}"
