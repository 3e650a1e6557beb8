"""What the secretariat workbook's 运行 button runs: ``szqa_secretariat.main()``.

The button is assigned to ``SampleCall``, the macro that the xlwings standalone template
ships and that the workbook carries unchanged; it runs
``RunPython "import <workbook name>; <workbook name>.main()"``, so a workbook saved as
``szqa_secretariat.xlsm`` lands here.  This is the shell only: which step to run, and its
parameters, are read from the calling workbook's 控制 sheet, and the step itself is a
function of :mod:`szqa_xl.excel.secretariat`.
"""

from __future__ import annotations

from szqa_xl.excel import secretariat

__all__ = ["actions", "main"]


def actions() -> tuple[str, ...]:
    """The steps main() runs, as the 控制 sheet's dropdown lists them."""
    return secretariat.action_labels()


def main() -> None:
    """Run the step chosen on the calling workbook's 控制 sheet; the outcome goes to its status cell."""
    import xlwings as xw

    secretariat.run_in_book(xw.Book.caller())
