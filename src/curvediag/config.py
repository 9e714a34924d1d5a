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
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Mapping

from .errors import UsageError
from .engine import rule_options
from .rules import ALL_RULES, OPTION_GROUPS, RULES, get_rule
from .rules.options import check_table
from . import settings as settings_module
from .settings import (  # noqa: F401 - the names config has always offered
    COLUMN_OPTIONS, FAIL_ON, INPUT_FORMAT_NAMES, MAX_CLASSES, Settings,
    _COLUMN_KEY, _COLUMN_KEYS, _kind, _shown, _whole, input_format_name, rule_enabled,
)
from .vocabulary import ALIASES, OutputFormat

FORMATS = tuple(f.value for f in OutputFormat)
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
    try:
        rule_options(out)  # one value per shared option (the val-loss rise's, set under several rules)
    except UsageError as e:
        raise UsageError(f"{where}: {e}") from None
    return out


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


def for_path(self: Settings, path: str) -> Settings:
    """``settings`` (``self``) for one log (``Settings.for_path``): these settings for one log: each ``[[per-path]]`` entry whose patterns match ``path`` applied
    in order, except where the environment or the command line set the key."""
    if not self.per_path or path == "-":
        return self
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

def settings_dict(self: Settings) -> dict[str, Any]:
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


settings_module._per_path = for_path
