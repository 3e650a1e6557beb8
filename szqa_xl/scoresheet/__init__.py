"""Examiner scoresheets: the roster, the layout of a sheet (a plan), generating files and templates."""
