"""Opening returned workbooks safely: the zip package, its XML parts, one parsed view of every cell.

``package`` opens the zip as OPC does (part names case-insensitive, rooted) and
refuses anything ambiguous; ``xmlparts`` parses every part with a real XML
parser (DTDs and entities refused, depth bounded) into plain values;
``isolation`` runs each file's read in a worker under a time and memory limit.
``szqa_xl.returns.reader`` validates the view against the standard.
"""

DEFAULT_TIME_LIMIT = 10.0
"""Seconds one file's read may take: a scoresheet reads in a few milliseconds; 10 s is clearly not one."""
DEFAULT_MEMORY_LIMIT = 1024
"""MiB of address space a worker may add while reading one file (a scoresheet needs a few MiB)."""
