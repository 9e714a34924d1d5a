"""Settings: defaults < config file < environment (``CURVEDIAG_*``) < command line.

The file is ``[tool.curvediag]`` in the nearest ``pyproject.toml`` found by
walking up from the working directory, or any TOML file given with
``--config`` / ``CURVEDIAG_CONFIG`` (its top level, or its
``[tool.curvediag]`` table).  Keys::

    fail-on = "error"                 # never | info | warning | error
    format = "json"                   # text | json | jsonl | markdown | github | junit
    select = ["D", "O", "L"]          # rule codes, prefixes or names; default: all
    ignore = ["G101", "early-stopping-advice"]
    num-classes = 10

    [tool.curvediag.rules.O102]       # per-rule thresholds, by code or name
    rise_limit = 0.2

Unknown keys, rules and options are errors (exit 2) that name them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import UsageError

FAIL_ON = ("never", "info", "warning", "error")
FORMATS = ("text", "json", "jsonl", "markdown", "github", "junit")
KEYS = ("fail-on", "format", "select", "ignore", "num-classes", "rules")
ENV = {
    "CURVEDIAG_FAIL_ON": "fail-on",
    "CURVEDIAG_FORMAT": "format",
    "CURVEDIAG_SELECT": "select",
    "CURVEDIAG_IGNORE": "ignore",
    "CURVEDIAG_NUM_CLASSES": "num-classes",
    "CURVEDIAG_CONFIG": None,  # a path, handled before the rest
    "CURVEDIAG_DEBUG": None,  # show tracebacks of internal errors (the CLI reads it)
}


@dataclass
class Settings:
    fail_on: str = "warning"
    format: str = "text"
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    num_classes: int | None = None
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # key -> where its value came from
    config_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from .rules import RULES

        return {
            "config_file": self.config_file,
            "fail-on": self.fail_on,
            "format": self.format,
            "select": list(self.select),
            "ignore": list(self.ignore),
            "num-classes": self.num_classes,
            "rules": {code: opts for code, opts in self.rules.items()},
            "enabled": [r.code for r in RULES if rule_enabled(r.code, r.name, self.select, self.ignore)],
            "origin": dict(self.origin),
        }


def _load_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such config file") from None
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: not valid TOML ({e})") from None


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


def _apply(s: Settings, table: Mapping[str, Any], where: str) -> None:
    from .rules import RULES, get_rule

    for key, value in table.items():
        if key not in KEYS:
            raise UsageError(f"{where}: unknown key {key!r} (known: {', '.join(KEYS)})")
        if key == "fail-on":
            if value not in FAIL_ON:
                raise UsageError(f"{where}: fail-on must be one of {', '.join(FAIL_ON)}, not {value!r}")
            s.fail_on = value
        elif key == "format":
            if value not in FORMATS:
                raise UsageError(f"{where}: format must be one of {', '.join(FORMATS)}, not {value!r}")
            s.format = value
        elif key in ("select", "ignore"):
            items = _as_list(value, key, where)
            for it in items:
                if not any(r.code.startswith(it.upper()) or r.name == it for r in RULES):
                    raise UsageError(f"{where}: {key} names no rule: {it!r}")
            setattr(s, key, items)
        elif key == "num-classes":
            try:
                k = int(value)
            except (TypeError, ValueError):
                raise UsageError(f"{where}: num-classes must be a whole number") from None
            if k < 2:
                raise UsageError(f"{where}: num-classes must be at least 2")
            s.num_classes = k
        elif key == "rules":
            if not isinstance(value, dict):
                raise UsageError(f"{where}: rules must be a table of tables, one per rule")
            for rkey, opts in value.items():
                rule = get_rule(rkey)
                if rule is None:
                    raise UsageError(f"{where}: rules.{rkey}: no such rule")
                if not isinstance(opts, dict):
                    raise UsageError(f"{where}: rules.{rkey} must be a table of options")
                merged = s.rules.setdefault(rule.code, {})
                for okey, oval in opts.items():
                    name = okey.replace("-", "_")
                    if name not in rule.options:
                        known = ", ".join(rule.options) or "none"
                        raise UsageError(f"{where}: rules.{rkey}: unknown option {okey!r} (options: {known})")
                    if isinstance(oval, bool) or not isinstance(oval, (int, float)):
                        raise UsageError(f"{where}: rules.{rkey}.{okey} must be a number")
                    merged[name] = oval
        s.origin[key] = where


def resolve(
    config: str | None = None,
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """The settings in force: defaults, then the file, then the environment, then ``cli``."""
    env = os.environ if environ is None else environ
    s = Settings()
    for k in env:
        if k.startswith("CURVEDIAG_") and k not in ENV:
            raise UsageError(f"environment: unknown variable {k} (known: {', '.join(ENV)})")
    path = config or env.get("CURVEDIAG_CONFIG")
    if path:
        p = Path(path)
        table = _table(p, _load_toml(p), explicit=True)
        s.config_file = str(p)
    else:
        p = find_pyproject(cwd)
        table = None
        # most pyproject.toml files have no [tool.curvediag]: skip the TOML parser for them
        if p is not None and "tool.curvediag" in p.read_text(encoding="utf-8", errors="replace"):
            table = _table(p, _load_toml(p), explicit=False)
        if table is not None:
            s.config_file = str(p)
    if table:
        _apply(s, table, s.config_file or "config")
    env_table = {ENV[k]: v for k, v in env.items() if k in ENV and ENV[k]}
    if env_table:
        _apply(s, env_table, "environment")
    cli_table = {k: v for k, v in (cli or {}).items() if v is not None}
    if cli_table:
        _apply(s, cli_table, "command line")
    return s


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
