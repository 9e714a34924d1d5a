"""Find the training log inside a run directory."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import InputError

# (glob pattern, description), most specific first.  Within a pattern the newest
# run wins: the highest version_N / checkpoint-N, else the latest modification time.
PATTERNS = (
    ("**/lightning_logs/version_*/metrics.csv", "Lightning CSVLogger"),
    ("**/version_*/metrics.csv", "Lightning CSVLogger"),
    ("**/trainer_state.json", "Hugging Face"),  # the root file and every checkpoint-N copy, ranked by global_step
    ("**/mlflow.db", "MLflow SQLite"),
    ("**/results.csv", "Ultralytics"),
    ("**/events.out.tfevents.*", "TensorBoard"),
    ("**/vis_data/scalars.json", "MMEngine"),
    ("**/metrics.json", "detectron2"),
    ("**/metrics.csv", "CSV logger"),
    ("**/history.csv", "history"),
    ("**/history.json", "history"),
    ("**/training.log", "Keras CSVLogger"),
    ("**/*.log.json", "mmcv"),
    ("**/*.jsonl", "JSON Lines"),
    ("**/*.csv", "CSV"),
    ("**/*.json", "JSON"),
    ("**/*.log", "log"),
)
_MAX_FILES = 20000
_NUM = re.compile(r"(?:version_|checkpoint-)(\d+)")


_GLOBAL_STEP = re.compile(rb'"global_step"\s*:\s*(\d+)')
_HF_READ = 1 << 20  # HF writes its keys sorted: global_step comes before log_history, near the top


def _global_step(p: Path) -> int:
    """A trainer_state.json's top-level global_step (-1 when absent or unreadable): the
    most complete of a run's copies (the root file, checkpoint-N/ copies) has the largest."""
    try:
        with open(p, "rb") as f:
            m = _GLOBAL_STEP.search(f.read(_HF_READ))
            if m is None and f.seek(0, os.SEEK_END) > _HF_READ:  # keys written unsorted: look at the end too
                f.seek(-_HF_READ, os.SEEK_END)
                m = _GLOBAL_STEP.search(f.read(_HF_READ))
    except OSError:
        return -1
    return int(m.group(1)) if m else -1


def _rank(p: Path) -> tuple:
    nums = [int(n) for n in _NUM.findall(p.as_posix())]
    try:
        mtime = p.stat().st_mtime
    except OSError:
        mtime = 0.0
    # a trainer_state.json: the largest global_step, then the root file over a checkpoint copy
    hf = p.name == "trainer_state.json"
    return (_global_step(p) if hf else -1, hf and not nums, nums or [-1], mtime)


def within(path, real_root: str) -> bool:
    """Whether ``path``, its symbolic links resolved, lies inside ``real_root`` (itself
    resolved): a link that leads out of the directory the user named is not followed."""
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def find_log(directory: str) -> tuple[str, str]:
    """(path of the log to read, a note saying which and why).  Files reached through a
    symbolic link that leads outside ``directory`` are skipped, and the note says so."""
    root = Path(directory)
    real_root = os.path.realpath(root)
    seen = 0
    outside = 0
    for pattern, what in PATTERNS:
        hits = []
        for p in root.glob(pattern):
            seen += 1
            if seen > _MAX_FILES:
                raise InputError(directory, f"more than {_MAX_FILES} files below it; name the log file")
            if p.is_file() and not p.name.startswith(".") and p.stat().st_size > 0:
                if within(p, real_root):
                    hits.append(p)
                else:
                    outside += 1
        if hits and what == "TensorBoard":
            # the run is every event file below the newest file's run folder
            best = max(hits, key=_rank)
            run = best.parent
            if run.name in ("train", "validation", "eval") and run.parent != root.parent:
                run = run.parent
            rel = os.path.relpath(run, root)
            return str(run), f"run directory: read the TensorBoard event files in {rel}{_skipped(outside, directory)}"
        if hits:
            best = max(hits, key=_rank)
            rel = os.path.relpath(best, root)
            more = f" (newest of {len(hits)})" if len(hits) > 1 else ""
            return str(best), f"run directory: read {rel}, a {what} log{more}{_skipped(outside, directory)}"
    raise InputError(directory, "is a directory with no training log in it (looked for metrics.csv, trainer_state.json, results.csv, *.csv, *.json, *.jsonl, *.log)" + _skipped(outside, directory))


def _skipped(outside: int, directory: str) -> str:
    return f"; {outside} file(s) behind symbolic links leading outside {directory} not followed" if outside else ""
