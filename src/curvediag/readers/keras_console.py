"""Keras ``model.fit`` console output saved to a file (``python train.py > log.txt``).

Keras 2 prints ``Epoch 3/10`` then a progress bar that ends with
``- loss: 0.52 - accuracy: 0.81 - val_loss: 0.48 - val_accuracy: 0.83``;
Keras 3 prints ``━━━━`` bars and the same ``key: value`` pairs.  A piped run
leaves every progress update in the file, separated by ``\\r`` or erased with
``\\b``, and sometimes ANSI colour codes.  The last update before the next
``Epoch`` line holds the epoch's figures.
"""

from __future__ import annotations

import re

from .._np import np

from ..errors import InputError
from ..table import RawTable

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_EPOCH = re.compile(r"^\s*Epoch\s+(\d+)\s*/\s*(\d+)")
_PAIR = re.compile(r"(?<![\w/])([A-Za-z_][\w/]*):\s*([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf|-inf))")
_SKIP = {"ETA", "eta"}


def looks_like_console(text: str) -> bool:
    head = text[:20000]
    return bool(re.search(r"^\s*Epoch\s+\d+\s*/\s*\d+", head, re.M)) and "loss:" in head


def _erase_backspaces(line: str) -> str:
    out: list[str] = []
    for ch in line:
        if ch == "\b":
            if out:
                out.pop()
        else:
            out.append(ch)
    return "".join(out)


def read_console(text: str, source: str) -> RawTable:
    text = _ANSI.sub("", text)
    epochs: list[tuple[int, dict[str, float]]] = []
    current: int | None = None
    last: dict[str, float] = {}
    for raw in re.split(r"[\r\n]", text):
        line = _erase_backspaces(raw)
        m = _EPOCH.match(line)
        if m:
            if current is not None and last:
                epochs.append((current, last))
            current, last = int(m.group(1)), {}
            continue
        if current is None or "loss:" not in line:
            continue
        pairs = {k: float(v) for k, v in _PAIR.findall(line) if k not in _SKIP}
        if pairs:
            last = pairs  # later updates of the same epoch replace earlier ones
    if current is not None and last:
        epochs.append((current, last))
    if not epochs:
        raise InputError(source, "Keras console output without any finished epoch")
    names = ["epoch"]
    for _, d in epochs:
        for k in d:
            if k not in names:
                names.append(k)
    rows = len(epochs)
    values = {n: np.full(rows, np.nan) for n in names}
    present = {n: np.zeros(rows, dtype=bool) for n in names}
    for i, (e, d) in enumerate(epochs):
        values["epoch"][i], present["epoch"][i] = e, True
        for k, v in d.items():
            values[k][i], present[k][i] = v, True
    return RawTable(names, values, present, rows, "keras_console", ["epochs numbered as printed (from 1)"])
