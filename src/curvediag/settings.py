"""The settings of a diagnosis: :class:`Settings`, a frozen value object that checks what it is
given (``Settings.of``: the library's keywords), and the vocabularies it is checked against (rule
option ranges, input format names, column options).  :mod:`curvediag.config` loads the
configuration file, the environment and the command line into it; the engine, the pipeline and
the runners only read it.  Nothing here imports the rules, the engine or the renderers."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from .errors import UsageError
from .readers import INPUT_FORMATS
from .vocabulary import FAIL_ON as FAIL_ON  # never | info | warning | error

#: what ``--input-format`` / ``input-format`` accept: the reader names, then each ``source.format`` a
#: report prints, read by the reader that produced it (the aliases the entries of the reader table
#: carry: :data:`curvediag.readers.INPUT_FORMATS`).  The MLflow formats are recognised from the path
#: whatever is given: None, detection.
INPUT_FORMAT_NAMES: dict[str, str | None] = INPUT_FORMATS


def input_format_name(value: str | None, where: str = "--input-format") -> str | None:
    """The reader name for an ``--input-format`` value (a reader name or a format name reports print)."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in INPUT_FORMAT_NAMES:
        raise UsageError(f"{where}: unknown input format {_shown(value)} (known: {', '.join(INPUT_FORMAT_NAMES)})")
    return INPUT_FORMAT_NAMES[value]




#: the column options of the library and the command line: canonical curve -> column in the log
COLUMN_OPTIONS = ("train_loss", "val_loss", "train_acc", "val_acc", "metric")


@dataclass(frozen=True)
class Settings:
    """Everything a diagnosis depends on, resolved once: how to read a log (``input_format``,
    ``columns``, ``run``), what to judge (``num_classes``, ``select``, ``ignore`` and ``rules``, the
    per-rule option overrides ``{"O102": {"rise_limit": 0.2}}``), and how to report (``fail_on``,
    ``format``).  ``origin`` says where each configured value came from.

    Made by :func:`resolve` (file, environment, command line) or :meth:`of` (library keywords);
    the CLI, the library and a batch all hand the same object to :func:`curvediag.engine.analyse`."""

    fail_on: str = "warning"
    #: a borderline verdict (``Report.borderline``) fails the gate as a sure one would
    fail_on_borderline: bool = False
    format: str = "text"
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    num_classes: int | None = None
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # key -> where its value came from
    config_file: str | None = None
    input_format: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # canonical name -> column, see COLUMN_OPTIONS
    run: str | None = None
    extend_select: tuple[str, ...] = ()  # added to ``select`` by resolve (shown by ``config``)
    #: ``[[per-path]]`` entries: (patterns, the checked table, where it was set); see :meth:`for_path`
    per_path: tuple[tuple[tuple[str, ...], tuple[tuple[str, Any], ...], str], ...] = ()

    def __post_init__(self) -> None:
        """What no maker of settings may break (the file, the environment, the flags, the library's
        keywords or a hand-built ``Settings(...)``): the gate's level, the number of classes, the
        rule lists (tuples of strings; a list is taken as one) and the rule options (tables)."""
        if self.fail_on not in FAIL_ON:
            raise UsageError(f"fail_on must be one of {', '.join(FAIL_ON)}, not {_shown(self.fail_on)}")
        k = self.num_classes
        if k is not None and (isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 2 <= k <= MAX_CLASSES):
            raise UsageError(f"num_classes must be a whole number between 2 and {MAX_CLASSES}, not {_shown(k)}")
        for name in ("select", "ignore", "extend_select"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(x, str) for x in value):
                raise UsageError(f"{name} must be a list of rule codes, prefixes or names, not {_shown(value)}")
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        if not isinstance(self.rules, Mapping) or not all(isinstance(v, Mapping) for v in self.rules.values()):
            raise UsageError(f"rule options must map rule codes to tables of options, not {_shown(self.rules)}")

    @classmethod
    def of(
        cls,
        *,
        input_format: str | None = None,
        loss: str | None = None,
        val_loss: str | None = None,
        acc: str | None = None,
        val_acc: str | None = None,
        metric: str | None = None,
        columns: Mapping[str, str] | None = None,
        num_classes: int | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        run: str | None = None,
        select: tuple[str, ...] | list[str] = (),
        ignore: tuple[str, ...] | list[str] = (),
    ) -> "Settings":
        """The settings the library's keyword arguments describe (``diagnose(log, loss=..., ...)``).
        Rule options are checked when a log is analysed, as before."""
        if num_classes is not None and num_classes < 2:
            raise UsageError("num_classes must be at least 2")
        cols = {k: v for k, v in (columns or {}).items() if v}
        named = dict(train_loss=loss, val_loss=val_loss, train_acc=acc, val_acc=val_acc, metric=metric)
        cols.update({k: v for k, v in named.items() if v})
        return cls(
            select=tuple(select),
            ignore=tuple(ignore),
            num_classes=num_classes,
            rules={k: dict(v) for k, v in (options or {}).items()},
            input_format=INPUT_FORMAT_NAMES.get(input_format, input_format) if input_format else None,
            columns=cols,
            run=run,
        )

    def reading(self, *, input_format: str | None = None, columns: Mapping[str, str | None] | None = None,
                run: str | None = None) -> "Settings":
        """These settings with how to read a log (command-line options only) filled in."""
        cols = dict(self.columns)
        given = {k: v for k, v in (columns or {}).items() if v}
        cols.update(given)
        origin = dict(self.origin)
        for key, value in (("input-format", input_format), ("run", run), *((_COLUMN_KEY[k], v) for k, v in given.items())):
            if value:
                origin[key] = "command line"
        return replace(self, input_format=input_format or self.input_format, columns=cols, run=run or self.run,
                       origin=origin)

    def for_path(self, path: str) -> "Settings":
        """These settings for one log: each ``[[per-path]]`` entry whose patterns match ``path`` applied
        in order, except where the environment or the command line set the key (see
        :func:`curvediag.config.for_path`, which checks and applies the entries it loaded; only
        settings loaded by it hold such entries, so it is loaded whenever there are some -- in another
        process that received these settings, call :func:`curvediag.config.for_path` itself)."""
        if not self.per_path or path == "-" or _per_path is None:
            return self
        return _per_path(self, path)


#: applies the ``[[per-path]]`` entries to settings for one path; set by :mod:`curvediag.config`, the
#: only maker of such entries (the settings stay below the loader: no import of it from here)
_per_path: Callable[[Settings, str], Settings] | None = None



#: the column keys of the file: key -> the canonical curve it names (as --loss ... on the command line)
_COLUMN_KEYS = {"loss": "train_loss", "val-loss": "val_loss", "acc": "train_acc", "val-acc": "val_acc", "metric": "metric"}
_COLUMN_KEY = {v: k for k, v in _COLUMN_KEYS.items()}



MAX_CLASSES = 1_000_000_000

def _kind(value) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _whole(value) -> int | None:
    """An integer from TOML (int, or an integral float) or from the environment (a string)."""
    import math

    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip()) if any(c in value for c in ".eE") else int(value.strip())
        except ValueError:
            return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        return int(value)
    return value if isinstance(value, int) else None


def rule_enabled(code: str, name: str, select: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    """Longest matching prefix wins; a name counts as a full match; ignore wins a tie."""
    best_len, enabled = -1, not select
    for items, verdict in ((select, True), (ignore, False)):
        for it in items:
            if it == name:
                n = len(code) + 1
            elif code.startswith(it.upper()):
                n = len(it)
            else:
                continue
            if n > best_len or (n == best_len and not verdict):
                best_len, enabled = n, verdict
    return enabled
