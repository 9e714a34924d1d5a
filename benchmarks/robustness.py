"""How often a verdict flips under a 1% jitter of the losses, or when they are multiplied by 10.

    python benchmarks/robustness.py            # = python benchmarks/verdicts.py --set real --set corpus

Superseded by ``benchmarks/verdicts.py``, which measures the same (1% multiplicative noise on the
losses over 5 fixed seeds, the losses x10 and x0.1) on every labelled set, beside the gate, the exact
transforms that must flip nothing and the last evaluation dropped; this name runs it on the first
development set and the corpus.  Extra arguments are passed on (``--json``, ``--sample N``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from verdicts import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["--set", "real", "--set", "corpus", *sys.argv[1:]]))
