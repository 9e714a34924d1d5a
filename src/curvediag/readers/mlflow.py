"""MLflow: a file-store run directory and the SQLite tracking database.

File store: ``mlruns/<experiment>/<run_id>/metrics/<key>``, one line per logged
value, ``timestamp value step``; keys containing ``/`` are subfolders.
SQLite (``mlflow.db``): table ``metrics(key, value, timestamp, run_uuid, step,
is_nan)``; read with the standard library's sqlite3, read-only.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import InputError
from ..table import RawTable
from .tfevents import table_from_scalars

SQLITE_MAGIC = b"SQLite format 3\x00"


def is_run_dir(path: Path) -> bool:
    return (path / "metrics").is_dir() and (path / "meta.yaml").is_file()


def find_runs(root: Path) -> list[Path]:
    if is_run_dir(root):
        return [root]
    return sorted({p.parent for p in root.glob("**/metrics") if p.is_dir() and is_run_dir(p.parent)})


def read_run_dir(run: Path, source: str) -> RawTable:
    from .source import MAX_BYTES, too_big

    metrics = run / "metrics"
    tags: dict[str, list[tuple[int, float]]] = {}
    total = 0
    for f in sorted(metrics.rglob("*")):
        if not f.is_file():
            continue
        total += f.stat().st_size  # the one size cap, over all the run's metric files
        if total > MAX_BYTES:
            raise too_big(source, " of metric files")
        key = f.relative_to(metrics).as_posix()
        pts = []
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2:
                raise InputError(source, f"MLflow metric {key!r} line {n}: expected 'timestamp value step'")
            try:
                value = float(parts[1])
                step = int(float(parts[2])) if len(parts) > 2 else len(pts)
            except ValueError:
                raise InputError(source, f"MLflow metric {key!r} line {n}: not numbers") from None
            pts.append((step, value))
        tags[key] = pts
    table = table_from_scalars(tags, source)
    table.format = "mlflow"
    table.notes.append(f"MLflow run {run.name}")
    return table


def choose_run(root: Path, run: str | None, source: str) -> Path:
    runs = find_runs(root)
    if not runs:
        raise InputError(source, "no MLflow run (metrics/ and meta.yaml) below this directory")
    if run:
        hits = [r for r in runs if r.name.startswith(run) or _run_name(r) == run]
        if not hits:
            raise InputError(source, f"no MLflow run {run!r} (runs: {', '.join(r.name[:8] for r in runs[:10])})")
        return hits[0]
    return max(runs, key=lambda r: os.path.getmtime(r / "metrics"))


def _run_name(run: Path) -> str | None:
    tag = run / "tags" / "mlflow.runName"
    return tag.read_text().strip() if tag.is_file() else None


def read_sqlite(path: str, source: str, run: str | None = None) -> RawTable:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise InputError(source, f"cannot open SQLite database ({e})") from None
    try:
        cur = con.cursor()
        try:
            runs = cur.execute(
                "SELECT run_uuid, MAX(timestamp) FROM metrics GROUP BY run_uuid ORDER BY MAX(timestamp) DESC"
            ).fetchall()
        except sqlite3.Error:
            raise InputError(source, "an SQLite database without an MLflow 'metrics' table") from None
        if not runs:
            raise InputError(source, "the MLflow database holds no metrics")
        ids = [r[0] for r in runs]
        if run:
            names = {}
            try:
                names = dict(cur.execute("SELECT run_uuid, name FROM runs").fetchall())
            except sqlite3.Error:
                pass
            chosen = next((i for i in ids if i.startswith(run) or names.get(i) == run), None)
            if chosen is None:
                raise InputError(source, f"no MLflow run {run!r} in the database ({len(ids)} runs)")
        else:
            chosen = ids[0]
        rows = cur.execute(
            "SELECT key, step, value FROM metrics WHERE run_uuid = ? ORDER BY step, timestamp", (chosen,)
        ).fetchall()
    finally:
        con.close()
    tags: dict[str, list[tuple[int, float]]] = {}
    for key, step, value in rows:
        tags.setdefault(key, []).append((int(step), float(value)))
    table = table_from_scalars(tags, source)
    table.format = "mlflow_sqlite"
    more = f"; {len(ids)} runs in the database, --run picks another" if len(ids) > 1 and not run else ""
    table.notes.append(f"MLflow run {chosen[:12]}{more}")
    return table
