"""Settings: defaults < config file < environment (``CURVEDIAG_*``) < command line.

The file is ``[tool.curvediag]`` in the nearest ``pyproject.toml`` found by
walking up from the working directory, or any TOML file given with
``--config`` / ``CURVEDIAG_CONFIG`` (its top level, or its
``[tool.curvediag]`` table).  Keys::

    fail-on = "error"                 # never | info | warning | error
    fail-on-borderline = true         # a borderline verdict (confidence under 0.5) fails too; default false
    format = "json"                   # text | json | jsonl (json-lines) | markdown | github | junit | sarif | gitlab | gitlab-metrics | azure
    select = ["D", "O", "L"]          # rule codes, prefixes or names; default: all
    ignore = ["G101", "early-stopping-advice"]
    num-classes = 10

    [tool.curvediag.rules.O102]       # per-rule thresholds, by code or name
    plateau_share = 0.4

    [tool.curvediag.rules.rise]       # the val-loss rise O101, O102 and O103 all judge: one setting
    rise_limit = 0.2                  # (set under a member's code, as [rules.O102] rise_limit, it is
                                      # the same setting; two different values are an error)

    # how to read the logs (as --loss ... --input-format): column names, the quality metric
    loss = "TrainLoss"                # also val-loss, acc, val-acc, metric
    input-format = "keras_csv"        # a reader name or a format name reports print
    extend-select = ["C101"]          # added to select (select itself unchanged)

    [[tool.curvediag.per-path]]       # settings for the logs whose path matches (in order, later wins)
    paths = ["runs/asr/*"]            # fnmatch patterns ('*' crosses '/'), against the path as given or
    metric = "eval_wer"               # relative to the config file's directory; a pattern ending in '/'
    ignore = ["O103"]                 # matches everything under it

Unknown keys, rules and options are errors (exit 2) that name them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import UsageError
from .readers import INPUT_FORMATS
from .vocabulary import FAIL_ON as FAIL_ON  # never | info | warning | error (curvediag.vocabulary)
from .vocabulary import ALIASES, OutputFormat

FORMATS = tuple(f.value for f in OutputFormat)
#: what ``--input-format`` / ``input-format`` accept: the reader names (readers.FORMATS), then each
#: ``source.format`` a report prints, read by the reader that produced it (the aliases the entries of
#: the reader table carry).  The MLflow formats are recognised from the path whatever is given: None.
INPUT_FORMAT_NAMES: dict[str, str | None] = INPUT_FORMATS


def input_format_name(value: str | None, where: str = "--input-format") -> str | None:
    """The reader name for an ``--input-format`` value (a reader name or a format name reports print)."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in INPUT_FORMAT_NAMES:
        raise UsageError(f"{where}: unknown input format {_shown(value)} (known: {', '.join(INPUT_FORMAT_NAMES)})")
    return INPUT_FORMAT_NAMES[value]


ENV = {
    "CURVEDIAG_FAIL_ON": "fail-on",
    "CURVEDIAG_FAIL_ON_BORDERLINE": "fail-on-borderline",
    "CURVEDIAG_FORMAT": "format",
    "CURVEDIAG_SELECT": "select",
    "CURVEDIAG_IGNORE": "ignore",
    "CURVEDIAG_NUM_CLASSES": "num-classes",
    "CURVEDIAG_CONFIG": None,  # a path, handled before the rest
    "CURVEDIAG_DEBUG": None,  # show tracebacks of internal errors (the CLI reads it)
    "CURVEDIAG_HTTP_TIMEOUT": None,  # seconds one request to an MLflow server may take (readers/mlflow_server.py)
}


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
        from dataclasses import replace

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
        in order, except where the environment or the command line set the key."""
        if not self.per_path or path == "-":
            return self
        from dataclasses import fields, replace

        s: dict[str, Any] | None = None
        for patterns, table, where in self.per_path:
            if not any(_path_matches(pat, path, self.config_file) for pat in patterns):
                continue
            if s is None:
                s = {f.name: getattr(self, f.name) for f in fields(self)}
                s["rules"] = {k: dict(v) for k, v in self.rules.items()}
                s["origin"], s["columns"] = dict(self.origin), dict(self.columns)
            kept = {k: v for k, v in table if self.origin.get(k) not in ("environment", "command line")}
            _apply(s, kept, where)
        if s is None:
            return self
        if s["extend_select"] and s["select"]:
            s["select"] = tuple(dict.fromkeys((*s["select"], *s["extend_select"])))
        return replace(self, **{k: v for k, v in s.items() if k != "per_path"})

    def to_dict(self) -> dict[str, Any]:
        from .rules import RULES

        out: dict[str, Any] = {"config_file": self.config_file}
        for key, (name, _) in _KEYS.items():  # every configuration key, in KEYS order
            if key in _COLUMN_KEYS:
                out[key] = self.columns.get(_COLUMN_KEYS[key])
                continue
            if key == "per-path":
                out[key] = [{"paths": list(pats), **{k: list(v) if isinstance(v, tuple) else v for k, v in table}}
                            for pats, table, _ in self.per_path]
                continue
            value = getattr(self, name)
            out[key] = list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, dict) else value
        out["enabled"] = [r.code for r in RULES if rule_enabled(r.code, r.name, self.select, self.ignore)]
        out["origin"] = dict(self.origin)
        return out


#: a config file larger than this is refused unread (a TOML settings table is a few hundred bytes)
MAX_CONFIG_BYTES = 1 << 20


def _read_config(path: Path) -> bytes:
    """The bytes of a config file: a regular file only (a FIFO, device or /dev/zero would hang
    or never end), opened without blocking and read up to :data:`MAX_CONFIG_BYTES`."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such config file") from None
    except PermissionError:
        raise UsageError(f"{path}: cannot read the config file (permission denied)") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read the config file ({e.strerror or e})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UsageError(f"{path}: is a directory, not a config file")
        if not stat.S_ISREG(mode):
            raise UsageError(f"{path}: not a regular file (device, FIFO or socket); config not read")
        chunks, size = [], 0
        while size <= MAX_CONFIG_BYTES:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_CONFIG_BYTES:
            raise UsageError(f"{path}: larger than {MAX_CONFIG_BYTES >> 20} MiB; not a config file")
        return b"".join(chunks)
    except OSError as e:
        raise UsageError(f"{path}: cannot read the config file ({e.strerror or e})") from None
    finally:
        os.close(fd)


def _parse_toml(path: Path, data: bytes) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not valid TOML (not UTF-8 text)") from None
    except RecursionError:
        raise UsageError(f"{path}: not valid TOML (nested too deeply)") from None
    except ValueError as e:
        raise UsageError(f"{path}: not valid TOML ({e})") from None


def _load_toml(path: Path) -> dict:
    return _parse_toml(path, _read_config(path))


# Every TOML spelling of the table names 'curvediag' ([tool.curvediag], [tool."curvediag"],
# [tool] + curvediag = {...}, tool.curvediag.x = ..., 'curvediag'), unless a quoted key spells
# it with \u escapes: a pyproject.toml with neither is not parsed at all (start-up time).
def _may_name_us(data: bytes) -> bool:
    return b"curvediag" in data or b"\\u" in data or b"\\U" in data


def find_pyproject(start: Path | None = None) -> Path | None:
    d = (start or Path.cwd()).resolve()
    for p in (d, *d.parents):
        f = p / "pyproject.toml"
        if f.is_file():
            return f
    return None


def _table(path: Path, data: dict, explicit: bool) -> dict | None:
    tool = data.get("tool", {}).get("curvediag") if isinstance(data.get("tool"), dict) else None
    if tool is not None:
        if not isinstance(tool, dict):
            raise UsageError(f"{path}: tool.curvediag must be a table ([tool.curvediag]), not {_kind(tool)}")
        return tool
    if path.name == "pyproject.toml":
        return None if not explicit else {}
    return data


def _as_list(value, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in (x.strip() for x in value.split(",")) if v]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: {key} must be a list of rule codes, prefixes or names")
    return tuple(value)


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


def _choice(key: str, choices: tuple[str, ...]):
    def check(value, where: str, s: dict[str, Any]) -> str:
        if not isinstance(value, str) or value not in choices:
            raise UsageError(f"{where}: {key} must be one of {', '.join(choices)}, not {_shown(value)}")
        return value

    return check


def _flag(key: str):
    def check(value, where: str, s: dict[str, Any]) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.strip().lower() in ("1", "true", "yes", "on")
        raise UsageError(f"{where}: {key} must be true or false, not {_shown(value)}")

    return check


def _format(value, where: str, s: dict[str, Any]) -> str:
    """An output format; an alias (``json-lines``) as the format it names (``jsonl``)."""
    value = _choice("format", FORMATS)(value, where, s)
    return ALIASES.get(value, value)


def _rule_list(key: str):
    def check(value, where: str, s: dict[str, Any]) -> tuple[str, ...]:
        from .rules import ALL_RULES

        items = _as_list(value, key, where)
        for it in items:
            if not any(r.code.startswith(it.upper()) or r.name == it for r in ALL_RULES):
                raise UsageError(f"{where}: {key} names no rule: {it!r}")
        return items

    return check


def _num_classes(value, where: str, s: dict[str, Any]) -> int:
    k = _whole(value)
    if k is None:
        raise UsageError(f"{where}: num-classes must be a whole number, not {_shown(value)}")
    if not 2 <= k <= MAX_CLASSES:
        raise UsageError(f"{where}: num-classes must be between 2 and {MAX_CLASSES}, not {k}")
    return k


def _rules(value, where: str, s: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``rules.CODE.option = value`` tables merged into what earlier sources set."""
    from .rules import OPTION_GROUPS, get_rule
    from .rules.options import check_table

    if not isinstance(value, dict):
        raise UsageError(f"{where}: rules must be a table of tables, one per rule")
    out = s["rules"]
    for rkey, opts in value.items():
        group = OPTION_GROUPS.get(rkey)
        rule = get_rule(rkey) if group is None else None
        if group is not None:
            declared, key = group.Options, group.name
        elif rule is not None:
            declared, key = rule.Options, rule.code
        else:
            raise UsageError(f"{where}: rules.{rkey}: no such rule")
        out.setdefault(key, {}).update(check_table(opts, declared, rkey, where))
    from .engine import rule_options

    try:
        rule_options(out)  # one value per shared option (the val-loss rise's, set under several rules)
    except UsageError as e:
        raise UsageError(f"{where}: {e}") from None
    return out


#: the column keys of the file: key -> the canonical curve it names (as --loss ... on the command line)
_COLUMN_KEYS = {"loss": "train_loss", "val-loss": "val_loss", "acc": "train_acc", "val-acc": "val_acc", "metric": "metric"}
_COLUMN_KEY = {v: k for k, v in _COLUMN_KEYS.items()}


def _column(key: str):
    def check(value, where: str, s: dict[str, Any]) -> dict[str, str]:
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"{where}: {key} must be a column name (a non-empty string), not {_shown(value)}")
        cols = dict(s.get("columns") or {})
        cols[_COLUMN_KEYS[key]] = value
        return cols

    return check


def _input_format(value, where: str, s: dict[str, Any]) -> str | None:
    return input_format_name(value, f"{where}: input-format")


def _path_matches(pattern: str, path: str, config_file: str | None) -> bool:
    import fnmatch

    def norm(p: str) -> str:
        p = p.replace(os.sep, "/")
        while p.startswith("./"):
            p = p[2:]
        return p

    candidates = [norm(path)]
    if config_file:
        try:
            rel = os.path.relpath(os.path.abspath(path), os.path.dirname(os.path.abspath(config_file)))
            if not rel.startswith(".."):
                candidates.append(norm(rel))
        except ValueError:  # another drive (Windows)
            pass
    pat = norm(pattern)
    for c in candidates:
        if fnmatch.fnmatchcase(c, pat) or (pat.endswith("/") and (c + "/").startswith(pat)):
            return True
    return False


#: the keys a ``[[per-path]]`` entry may set (how to read and judge a log; not how to report)
PER_PATH_KEYS = ("loss", "val-loss", "acc", "val-acc", "metric", "input-format", "num-classes", "select", "ignore",
                 "extend-select", "rules")


def _per_path(value, where: str, s: dict[str, Any]):
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise UsageError(f"{where}: per-path must be an array of tables ([[tool.curvediag.per-path]])")
    out = []
    for i, entry in enumerate(value):
        at = f"{where}: per-path[{i}]"
        pats = entry.get("paths")
        if isinstance(pats, str):
            pats = [pats]
        if not isinstance(pats, list) or not pats or not all(isinstance(x, str) and x for x in pats):
            raise UsageError(f"{at}: paths must be a list of path patterns (e.g. [\"runs/asr/*\"])")
        table = {k: v for k, v in entry.items() if k != "paths"}
        for k in table:
            if k not in PER_PATH_KEYS:
                raise UsageError(f"{at}: key {k!r} cannot be set per path (per-path keys: paths, {', '.join(PER_PATH_KEYS)})")
        scratch = {"rules": {k: dict(v) for k, v in s["rules"].items()}, "origin": {}, "columns": dict(s.get("columns") or {})}
        _apply(scratch, table, at)  # checked now: a bad value is an error even when no path matches
        out.append((tuple(pats), tuple(table.items()), at))
    return tuple(out)


#: each configuration key: (the Settings field it sets, its check)
_KEYS = {
    "fail-on": ("fail_on", _choice("fail-on", FAIL_ON)),
    "fail-on-borderline": ("fail_on_borderline", _flag("fail-on-borderline")),
    "format": ("format", _format),
    "select": ("select", _rule_list("select")),
    "extend-select": ("extend_select", _rule_list("extend-select")),
    "ignore": ("ignore", _rule_list("ignore")),
    "num-classes": ("num_classes", _num_classes),
    **{k: ("columns", _column(k)) for k in _COLUMN_KEYS},
    "input-format": ("input_format", _input_format),
    "rules": ("rules", _rules),
    "per-path": ("per_path", _per_path),
}
KEYS = tuple(_KEYS)


def _apply(s: dict[str, Any], table: Mapping[str, Any], where: str) -> None:
    """Check ``table`` (file, environment or command line) and apply it to the values ``s``."""
    for key, value in table.items():
        if key not in _KEYS:
            raise UsageError(f"{where}: unknown key {key!r} (known: {', '.join(KEYS)})")
        field_name, check = _KEYS[key]
        s[field_name] = check(value, where, s)
        s["origin"][key] = where


def resolve(
    config: str | None = None,
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """The settings in force: defaults, then the file, then the environment, then ``cli``."""
    env = os.environ if environ is None else environ
    s: dict[str, Any] = {"rules": {}, "origin": {}, "config_file": None, "columns": {}}
    for k in env:
        if k.startswith("CURVEDIAG_") and k not in ENV:
            raise UsageError(f"environment: unknown variable {k} (known: {', '.join(ENV)})")
    path = config or env.get("CURVEDIAG_CONFIG")
    p: Path | None
    if path:
        p = Path(path)
        try:
            table = _table(p, _load_toml(p), explicit=True)
        except UsageError as e:
            if config:
                raise
            raise UsageError(f"CURVEDIAG_CONFIG={e}") from None
        s["config_file"] = str(p)
    else:
        p = find_pyproject(cwd)
        table = None
        if p is not None:
            data = _read_config(p)
            # most pyproject.toml files have no [tool.curvediag]: skip the TOML parser for them
            if _may_name_us(data):
                table = _table(p, _parse_toml(p, data), explicit=False)
        if table is not None:
            s["config_file"] = str(p)
    if table:
        _apply(s, table, s["config_file"] or "config")
    for var, value in env.items():
        if key := ENV.get(var):
            try:
                _apply(s, {key: value}, "environment")
            except UsageError as e:
                raise UsageError(f"{e} (from the environment variable {var})") from None
    cli_table = {k: v for k, v in (cli or {}).items() if v is not None}
    if cli_table:
        _apply(s, cli_table, "command line")
    if s.get("extend_select") and s.get("select"):
        s["select"] = tuple(dict.fromkeys((*s["select"], *s["extend_select"])))
    return Settings(**s)


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
