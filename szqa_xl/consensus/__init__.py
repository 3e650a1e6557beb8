"""After the consensus meeting: panel workbooks, their reading back, results and feedback reports."""
