"""Workbooks as plans, and the one writer that renders them (XlsxWriter), with text safety and atomic files."""
