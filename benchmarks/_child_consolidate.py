"""Child process of bench_consolidate.py: consolidate_dir (and write_outputs with --out), nothing else.

Imports only what `szqa consolidate` imports, so its ru_maxrss is comparable.

    python benchmarks/_child_consolidate.py RETURNS MANIFEST [OUT]
"""

import sys

from szqa_xl.consolidation.batch import consolidate_dir, write_outputs

if __name__ == "__main__":
    returns, manifest = sys.argv[1], sys.argv[2]
    cons = consolidate_dir(returns, manifest=manifest)
    if len(sys.argv) > 3:
        write_outputs(cons, sys.argv[3], force=True)
    print(cons.summary())
