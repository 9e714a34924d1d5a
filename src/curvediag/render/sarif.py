"""SARIF 2.1.0, for GitHub code scanning (``github/codeql-action/upload-sarif``) and other SARIF
viewers: one run; ``tool.driver.rules`` lists every rule that ran (and any comparison rule that
reported); a result per finding, at the log file (relative to ``%SRCROOT%``, the working
directory, when the log is inside it) and at the line of the row where it starts when the log is
a text file with a row per line; an input that could not be read is a tool execution notification
(``executionSuccessful`` false).  Validated in the tests against the OASIS schema."""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from . import printable
from .locate import line_of, relative, uri
from ..report import Unreadable
from .._version import __version__
from ..rules import get_rule

if TYPE_CHECKING:
    from ..report import Batch

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: where the rules are documented: the helpUri of each is its section of docs/rules.md.  The project has
#: no published home yet (the JSON Schema's ``$id`` uses the same reserved ``.invalid`` host): change it
#: here when it has one.  Each rule's whole documentation is in its ``help`` as well.
HOME = "https://curvediag.invalid"
RULES_DOC = f"{HOME}/docs/rules.md"
LEVEL = {"error": "error", "warning": "warning", "info": "note", "ok": "note"}


def fingerprint(path: str, code: str) -> str:
    """A stable identity of a finding across runs: the log (relative to the working directory when
    inside it, so a checkout elsewhere gives the same) and the rule, not the message's numbers."""
    path = relative(path) or path
    return hashlib.sha256(f"{path}\0{code}".encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _rule_severity(rule: Any) -> str:
    verdict = getattr(rule, "verdict", None)
    return verdict.severity if verdict is not None else getattr(rule, "level", "info")


def _descriptor(code: str, name: str) -> dict[str, Any]:
    rule = get_rule(code)
    d: dict[str, Any] = {"id": code, "name": name}
    if rule is not None:
        doc = rule.doc()
        d["shortDescription"] = {"text": rule.summary() or name}
        d["fullDescription"] = {"text": doc or name}
        help_text = doc + ("\n\nRemedies:\n" + "\n".join(f"- {x}" for x in rule.remedies) if rule.remedies else "")
        d["help"] = {"text": help_text or name, "markdown": help_text or name}
        d["defaultConfiguration"] = {"level": LEVEL[_rule_severity(rule)]}
        d["properties"] = {"tags": ["training-curves"] + ([rule.verdict.value] if rule.verdict is not None else [])}
    else:
        d["shortDescription"] = {"text": name}
    d["helpUri"] = f"{RULES_DOC}#{code.lower()}-{name}"
    return d


def _location(path: str, line: int | None) -> dict[str, Any]:
    u, base = uri(path)
    artifact: dict[str, Any] = {"uri": u}
    if base:
        artifact["uriBaseId"] = base
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if line is not None:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def document(batch: "Batch") -> dict[str, Any]:

    rules = list(batch.rules)
    for r in batch.reports:  # comparison rules (B1xx) run outside the engine's list
        rules += [(f.code, f.name) for f in r.findings if (f.code, f.name) not in rules]
    index = {code: i for i, (code, _) in enumerate(rules)}
    results: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for given, item in zip(batch.paths, batch.items):
        if isinstance(item, Unreadable):
            path = "<stdin>" if item.path == "-" else item.path
            notes.append({"level": "error", "message": {"text": printable(f"{path}: {item.problem}")},
                          "locations": [_location(path, None)], "descriptor": {"id": "unreadable"}})
            continue
        for f in item.findings:
            path = item.source.path
            results.append({
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": LEVEL[f.severity],
                "message": {"text": printable(f.message)},
                "locations": [_location(path, line_of(item, f, given))],
                "partialFingerprints": {"curvediag/v1": fingerprint(path, f.code)},
                "properties": {"verdict": f.verdict, "severity": f.severity,
                               **({"confidence": item.confidence, "alternative": item.alternative,
                                   "borderline": item.borderline}
                                  if f.verdict is not None and f.verdict == item.verdict else {})},
            })
    from pathlib import Path

    root = Path(os.getcwd()).as_uri().rstrip("/") + "/"  # %SRCROOT%: the working directory
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "curvediag", "version": __version__, "informationUri": HOME,
                                "rules": [_descriptor(c, n) for c, n in rules]}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root}},
            "invocations": [{"executionSuccessful": not batch.unreadable, "toolExecutionNotifications": notes}],
            "results": results,
        }],
    }


def render(batch: "Batch") -> str:
    return json.dumps(document(batch), indent=2, allow_nan=False) + "\n"
