"""Run directories: an MLflow file store's run, a directory of TensorBoard event files, or the
training log found inside a directory (:data:`PATTERNS`, most specific first)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

from ..errors import InputError
from ..table import RawTable
from .runs import find_runs, is_run_dir  # noqa: F401 - importable from here as before
from .source import EVENT_FILE_PREFIX, MAX_BYTES, open_regular, read_bytes, too_big, within
from .tfevents import scalars, table_from_scalars

# (glob pattern, description), most specific first.  Within a pattern the newest
# run wins: the highest version_N / checkpoint-N, else the latest modification time.
PATTERNS = (
    ("**/lightning_logs/version_*/metrics.csv", "Lightning CSVLogger"),
    ("**/version_*/metrics.csv", "Lightning CSVLogger"),
    ("**/trainer_state.json", "Hugging Face"),  # the root file and every checkpoint-N copy, ranked by global_step
    ("**/mlflow.db", "MLflow SQLite"),
    ("**/results.csv", "Ultralytics"),
    (f"**/{EVENT_FILE_PREFIX}.*", "TensorBoard"),
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
        with open_regular(p) as f:
            m = _GLOBAL_STEP.search(f.read(_HF_READ))
            if m is None and f.seek(0, os.SEEK_END) > _HF_READ:  # keys written unsorted: look at the end too
                f.seek(-_HF_READ, os.SEEK_END)
                m = _GLOBAL_STEP.search(f.read(_HF_READ))
    except (OSError, InputError):
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


def read_dir(path: str, run: str | None = None) -> tuple[RawTable | str, str | None]:
    """What a directory holds: (the table of an MLflow run or of the TensorBoard event files,
    else the path of the log file to read; the note saying which and why, or None)."""
    given = path
    note = None
    try:
        if find_runs(Path(path)):
            from .mlflow import choose_run, read_run_dir

            return read_run_dir(choose_run(Path(path), run, path), path), None
        path, note = find_log(path)
        if os.path.isdir(path):  # a directory of TensorBoard event files
            table = read_event_dir(path)
            table.notes.insert(0, note)
            return table, None
    except RecursionError:
        raise InputError(given, "directories nested too deeply to search; name the log file") from None
    except PermissionError as e:
        raise InputError(e.filename or given, "permission denied") from None
    except OSError as e:
        raise InputError(e.filename or given, e.strerror or str(e)) from None
    return path, note


def read_event_dir(path: str) -> RawTable:
    """Every event file below ``path``; tags are prefixed with their subdirectory when
    there are several (Keras writes ``train/`` and ``validation/`` side by side)."""
    root = Path(path)
    real_root = os.path.realpath(root)
    found = [p for p in root.rglob(f"{EVENT_FILE_PREFIX}*") if p.is_file()]
    files = sorted(p for p in found if within(p, real_root))
    parents = {p.parent for p in files}
    tags: dict = {}
    total = 0
    for f in files:
        total += f.stat().st_size  # the one size cap, over all the event files read together
        if total > MAX_BYTES:
            raise too_big(path, " of event files")
        rel = f.parent.relative_to(root).as_posix()
        prefix = f"{rel}/" if len(parents) > 1 and rel != "." else ""
        _, data = read_bytes(str(f))
        for tag, pts in scalars(data, str(f), prefix).items():
            tags.setdefault(tag, []).extend(pts)
    table = table_from_scalars(tags, path)
    table.notes.append(f"{len(files)} TensorBoard event file(s)")
    if len(found) > len(files):
        table.notes.append(f"{len(found) - len(files)} event file(s) behind symbolic links leading outside {path} not followed")
    return table


# --- every run of a directory (``analyze DIR``: one report per run) -------------------------------

#: (glob pattern, description, how many levels above the file the run's own directory is), in the
#: order conventions claim run directories: a run directory claimed by one is not another's run
RUN_CONVENTIONS = (
    ("**/version_*/metrics.csv", "Lightning CSVLogger", 1),
    ("**/trainer_state.json", "Hugging Face", 1),  # its checkpoint-N/ copies belong to the run above them
    ("**/results.csv", "Ultralytics", 1),
    ("**/vis_data/scalars.json", "MMEngine", 2),
    ("**/metrics.json", "detectron2", 1),
    ("**/mlflow.db", "MLflow SQLite", 0),  # a file: ``--run all`` reads each of its runs
)
#: logs found where no convention claims a run: each file is a run of its own
LOOSE = ("*.csv", "*.json", "*.jsonl", "*.log", "*.json.gz", "*.csv.gz", "*.jsonl.gz")
_CHECKPOINT = re.compile(r"checkpoint-\d+")
_DIGITS = re.compile(r"(\d+)")


def natural(rel: str) -> list:
    """A sort key that orders a name by its numbers: train < train2 < train10, version_2 < version_10
    (sort a path by the keys of its parts)."""
    return [int(p) if i % 2 else p for i, p in enumerate(_DIGITS.split(rel))]


class FoundRun:
    """One run found in a directory: ``path`` to read (a log file, an MLflow run directory or a folder
    of TensorBoard event files), ``kind`` ("file", "mlflow", "events"), what found it."""

    __slots__ = ("path", "kind", "what", "rel")

    def __init__(self, path: str, kind: str, what: str, rel: str) -> None:
        self.path, self.kind, self.what, self.rel = path, kind, what, rel

    def note(self) -> str:
        return f"run directory: read {self.rel}, a {self.what} log" if self.kind == "file" else f"run directory: {self.what} run {self.rel}"


def _usable(p: Path, root: Path, real_root: str) -> bool:
    """A non-empty regular file, not hidden nor below a hidden directory (``.git``, ``.trash``), that
    lies inside the directory named."""
    hidden = any(part.startswith(".") for part in p.relative_to(root).parts)
    return not hidden and p.is_file() and p.stat().st_size > 0 and within(p, real_root)


class _Claims:
    """Run directories already claimed by a convention, and every directory above them."""

    def __init__(self) -> None:
        self.runs: set[Path] = set()
        self.above: set[Path] = set()

    def add(self, d: Path) -> None:
        self.runs.add(d)
        self.above.update(d.parents)

    def __contains__(self, d: Path) -> bool:
        """``d`` is, is inside, or holds a claimed run directory."""
        return d in self.runs or d in self.above or any(a in self.runs for a in d.parents)


def all_runs(directory: str) -> list[FoundRun]:
    """Every run below ``directory``, ordered by the numbers in their names (not by time): each
    Lightning ``version_N``, Hugging Face output directory (its highest-ranked trainer_state.json:
    the root file or the furthest ``checkpoint-N`` copy), Ultralytics ``train``, ``train2`` ...,
    MMEngine or detectron2 run, MLflow file-store run and TensorBoard run folder; where none is
    found, every log file (``*.csv``, ``*.json``, ``*.jsonl``, ``*.log``) is a run of its own."""
    try:
        return _all_runs(directory)
    except RecursionError:
        raise InputError(directory, "directories nested too deeply to search; name the log file") from None
    except PermissionError as e:
        raise InputError(e.filename or directory, "permission denied") from None
    except OSError as e:
        raise InputError(e.filename or directory, e.strerror or str(e)) from None


class _Search:
    """One search below a root: the files seen so far (capped at ``_MAX_FILES``), the run
    directories claimed by the conventions searched before, and the runs found, each with the
    directory it is sorted by."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.root = Path(directory)
        self.real_root = os.path.realpath(self.root)
        self.seen = 0
        self.claimed = _Claims()
        self.runs: list[tuple[Path, FoundRun]] = []

    def glob(self, pattern: str) -> Iterator[Path]:
        """The paths below the root matching ``pattern``, refusing the search past ``_MAX_FILES``."""
        for p in self.root.glob(pattern):
            self.seen += 1
            if self.seen > _MAX_FILES:
                raise InputError(self.directory, f"more than {_MAX_FILES} files below it; name the log file")
            yield p

    def usable(self, p: Path) -> bool:
        return _usable(p, self.root, self.real_root)

    def rel(self, p: Path) -> str:
        return os.path.relpath(p, self.root)

    def add(self, d: Path, run: FoundRun) -> None:
        self.claimed.add(d)
        self.runs.append((d, run))


def _mlflow_runs(search: _Search) -> None:
    """MLflow file-store runs: searched first, so no other convention claims their files."""
    for run in find_runs(search.root):
        search.add(run, FoundRun(str(run), "mlflow", "MLflow", search.rel(run)))


def _convention_runs(search: _Search, pattern: str, what: str, up: int) -> None:
    """One file-naming convention of ``RUN_CONVENTIONS``: every file matching ``pattern`` names
    its run directory ``up`` levels above it (a Hugging Face ``checkpoint-N`` copy names the
    output directory holding it); each unclaimed directory is one run, read from its
    highest-ranked file."""
    groups: dict[Path, list[Path]] = {}
    for p in search.glob(pattern):
        if not search.usable(p):
            continue
        d = p.parents[up - 1] if up else p
        if what == "Hugging Face" and _CHECKPOINT.fullmatch(d.name):
            d = d.parent
        if d not in search.claimed:
            groups.setdefault(d, []).append(p)
    for d, files in groups.items():
        best = max(files, key=_rank)
        search.add(d, FoundRun(str(best), "file", what, search.rel(best)))


def _tensorboard_runs(search: _Search) -> None:
    """TensorBoard run folders: each folder holding event files (a ``train``/``validation``/``eval``
    subfolder counts for its parent), unless it lies inside another event folder (read with it)
    or another convention claimed it."""
    events: set[Path] = set()
    for p in search.glob(f"**/{EVENT_FILE_PREFIX}.*"):
        if search.usable(p):
            d = p.parent
            if d.name in ("train", "validation", "eval") and d != search.root:
                d = d.parent
            events.add(d)
    for d in sorted(events):
        if any(a in events for a in d.parents) or d in search.claimed:
            continue  # inside another run folder (read with it), or another convention's run
        search.add(d, FoundRun(str(d), "events", "TensorBoard", search.rel(d) if d != search.root else "."))


def _loose_files(search: _Search) -> None:
    """Where no convention found a run: every loose log file (``LOOSE`` patterns) is a run of its own."""
    loose = {p for pattern in LOOSE for p in search.glob("**/" + pattern) if search.usable(p)}
    search.runs = [(p, FoundRun(str(p), "file", "training", search.rel(p))) for p in loose]


def _all_runs(directory: str) -> list[FoundRun]:
    """The conventions searched in turn (each claims its run directories from the later ones),
    sorted by the numbers in their paths."""
    search = _Search(directory)
    _mlflow_runs(search)
    for pattern, what, up in RUN_CONVENTIONS:
        _convention_runs(search, pattern, what, up)
    _tensorboard_runs(search)
    if not search.runs:
        _loose_files(search)
    root = search.root
    search.runs.sort(key=lambda r: [natural(part) for part in Path(os.path.relpath(r[0], root)).parts])
    return [r for _, r in search.runs]
