"""The check that openpyxl parses XML safely, made wherever openpyxl reads a workbook."""

from __future__ import annotations


def check_environment() -> None:
    """Refuse to run when openpyxl would parse XML without defusedxml's protection.

    openpyxl guards against XML bombs and external entities only when defusedxml
    is installed, and says nothing when it is not.  szqa-xl depends on it; a
    broken install must fail loudly rather than let openpyxl read a file
    unprotected.  Returns are read by the project's own reader (``returns``), not
    by openpyxl; openpyxl reads workbooks only in the archive (a consolidated
    workbook's returns sheet) and the demo (filling its own scoresheets as an
    examiner would), and each calls this first.  Nothing else imports openpyxl.
    """
    import openpyxl.xml

    if not getattr(openpyxl.xml, "DEFUSEDXML", False):
        raise RuntimeError(
            "defusedxml is not active for openpyxl: install it (pip install defusedxml) "
            "before openpyxl reads any workbook"
        )
