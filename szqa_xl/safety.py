"""Start-up checks for a safe environment."""

from __future__ import annotations


def check_environment() -> None:
    """Refuse to run when openpyxl would parse XML without defusedxml's protection.

    openpyxl guards against XML bombs and external entities only when defusedxml
    is installed, and says nothing when it is not.  szqa-xl depends on it; a
    broken install must fail loudly rather than read returned files unprotected.
    """
    import openpyxl.xml

    if not getattr(openpyxl.xml, "DEFUSEDXML", False):
        raise RuntimeError(
            "defusedxml is not active for openpyxl: install it (pip install defusedxml) "
            "before reading or writing any workbook"
        )
