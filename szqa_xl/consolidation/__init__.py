"""Consolidation: statistics (core), the consolidated workbook's plan (report), reading and writing a batch."""
