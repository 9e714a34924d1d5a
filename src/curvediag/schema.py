"""The JSON Schema of curvediag's JSON: ``--format json`` prints an array holding, per input in
the order given, its report or an unreadable input's ``{"path", "error"}`` entry, however many
inputs were given; a line of ``--format jsonl`` is one such object, and a callback's
``report_path`` file one report (:meth:`Report.to_dict`).  ``schema_version`` changes only with a
migration note in docs/json.md.

Objects documented as growable (the report, ``source``, a finding, a skipped rule, a metric's
summary, the projection) allow keys added later (``additionalProperties: true``): a consumer
ignores keys it does not know.  Fixed objects (``final_gap``, a horizon, an unreadable entry,
``non_finite_values``) allow no others.  A number that is NaN or infinite is ``null``, and its
object's ``non_finite_values`` names it (``{"last": "NaN"}``)."""

from __future__ import annotations

from .report import NON_FINITE, SCHEMA_VERSION, SEVERITIES, VERDICTS

_NUM = {"type": "number"}
_NUM_OR_NULL = {"type": ["number", "null"]}
_NON_FINITE_WORD = {"enum": ["NaN", "Infinity", "-Infinity"]}


def _flags(*keys: str) -> dict:
    """``non_finite_values`` of an object whose numbers ``keys`` may be NaN or infinite."""
    return {"type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {k: _NON_FINITE_WORD for k in keys}}


_HORIZON_KEYS = ("position", "more", "value", "low", "high", "change", "change_low", "change_high")
_HORIZON = {
    "oneOf": [
        {"type": "null"},
        {
            "type": "object",
            "additionalProperties": False,
            "required": list(_HORIZON_KEYS),
            "properties": {**{k: _NUM_OR_NULL for k in _HORIZON_KEYS}, NON_FINITE: _flags(*_HORIZON_KEYS)},
        },
    ]
}
_PROJECTION = {
    "oneOf": [
        {"type": "null"},
        {
            "type": "object",
            "additionalProperties": True,  # growable
            "required": ["metric", "projected", "reason", "unit", "at_end", "end_position", "length", "level", "family",
                         "points_used", "horizon_50", "horizon_100", "summary"],
            "properties": {
                "metric": {"enum": ["train_loss", "val_loss"]},
                "projected": {"type": "boolean"},
                "reason": {"type": ["string", "null"]},
                "unit": {"enum": ["epoch", "step"]},
                "at_end": _NUM_OR_NULL,
                "end_position": _NUM_OR_NULL,
                "length": _NUM_OR_NULL,
                "level": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "family": {"enum": ["power law", "exponential", None]},
                "points_used": {"type": "integer", "minimum": 0},
                "horizon_50": _HORIZON,
                "horizon_100": _HORIZON,
                "summary": {"type": "string"},
                NON_FINITE: _flags("at_end", "end_position", "length"),
            },
        },
    ]
}
_METRIC_KEYS = ("first", "best", "best_epoch", "last")

REPORT = {
    "title": "curvediag report",
    "type": "object",
    "additionalProperties": True,  # growable
    "required": [
        "schema_version", "curvediag_version", "source", "verdict", "severity", "headline", "best_epoch",
        "best_epoch_metric", "onset_epoch", "epochs_after_best", "final_gap", "interpretation", "findings",
        "skipped", "metrics", "projection", "remedies", "confidence", "alternative", "borderline",
    ],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "curvediag_version": {"type": "string"},
        "source": {
            "type": "object",
            "additionalProperties": True,  # growable
            "required": ["path", "format", "rows", "axis", "columns", "notes"],
            "properties": {
                "path": {"type": "string"},
                "format": {"type": "string"},
                "rows": {"type": "integer", "minimum": 0},
                "axis": {"type": "string"},
                "columns": {"type": "object", "additionalProperties": {"type": "string"}},
                "notes": {"type": "array", "items": {"type": "string"}},
            },
        },
        "verdict": {"enum": list(VERDICTS)},
        "severity": {"enum": list(SEVERITIES)},
        "headline": {"type": "string"},
        "best_epoch": _NUM_OR_NULL,
        "best_epoch_metric": {"enum": ["val_loss", "val_acc", None]},
        "onset_epoch": _NUM_OR_NULL,
        "epochs_after_best": _NUM_OR_NULL,
        "final_gap": {
            "type": "object",
            "additionalProperties": False,
            "required": ["loss", "loss_relative", "acc"],
            "properties": {"loss": _NUM_OR_NULL, "loss_relative": _NUM_OR_NULL, "acc": _NUM_OR_NULL,
                           NON_FINITE: _flags("loss", "loss_relative", "acc")},
        },
        "interpretation": {"type": ["string", "null"]},
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": True,  # growable
                "required": ["code", "name", "verdict", "severity", "message", "evidence", "span", "remedies"],
                "properties": {
                    "code": {"type": "string", "pattern": "^[A-Z][0-9]{3}$"},
                    "name": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
                    "verdict": {"enum": [*VERDICTS, None]},
                    "severity": {"enum": list(SEVERITIES)},
                    "message": {"type": "string"},
                    "evidence": {  # per rule: measurements (numbers, booleans, or strings naming a metric)
                        "type": "object",
                        "properties": {NON_FINITE: {"type": "object", "minProperties": 1,
                                                    "additionalProperties": _NON_FINITE_WORD}},
                        "additionalProperties": {"type": ["number", "string", "boolean", "null"]},
                    },
                    "span": {"oneOf": [{"type": "null"},
                                       {"type": "array", "items": _NUM_OR_NULL, "minItems": 2, "maxItems": 2}]},
                    "remedies": {"type": "array", "items": {"type": "string"}},
                    NON_FINITE: {
                        "type": "object", "additionalProperties": False, "minProperties": 1,
                        "properties": {"span": {"type": "array", "minItems": 2, "maxItems": 2,
                                                "items": {"oneOf": [{"type": "null"}, _NON_FINITE_WORD]}}},
                    },
                },
            },
        },
        "skipped": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": True,  # growable
                "required": ["code", "name", "reason"],
                "properties": {"code": {"type": "string"}, "name": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
        "metrics": {  # growable: a canonical metric added later is a new key
            "type": "object",
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": True,  # growable
                "required": ["column", "points", "non_finite", "first", "best", "best_epoch", "last", "lower_is_better",
                             "label"],
                "properties": {
                    "column": {"type": "string"},
                    "points": {"type": "integer", "minimum": 0},
                    "non_finite": {"type": "integer", "minimum": 0},
                    **{k: _NUM_OR_NULL for k in _METRIC_KEYS},
                    "lower_is_better": {"type": "boolean"},
                    "label": {"type": "string"},
                    NON_FINITE: _flags(*_METRIC_KEYS),
                },
            },
        },
        "projection": _PROJECTION,
        "remedies": {"type": "array", "items": {"type": "string"}},
        # how sure the verdict is: the share of copies of the run, drawn from its own noise, judged the
        # same way (null: too short to judge); the verdict most of the others give; under 0.5, borderline
        "confidence": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "alternative": {"type": ["string", "null"]},
        "borderline": {"type": "boolean"},
    },
}

#: An input that gave no report: its path and the problem (the line on stderr after the path).
UNREADABLE = {
    "title": "curvediag unreadable input",
    "type": "object",
    "additionalProperties": False,
    "required": ["path", "error"],
    "properties": {"path": {"type": "string"}, "error": {"type": "string"}},
}

#: ``--format json``: the whole output
OUTPUT = {"type": "array", "items": {"oneOf": [{"$ref": "#/$defs/report"}, {"$ref": "#/$defs/unreadable"}]}}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"https://curvediag.invalid/schema/report-v{SCHEMA_VERSION}.json",
    "title": "curvediag output",
    "description": "--format json: the array (one element per input). A line of --format jsonl: a report or an "
                   "unreadable entry. A callback's report_path file: a report.",
    "$defs": {"report": REPORT, "unreadable": UNREADABLE, "output": OUTPUT},
    "oneOf": [
        {"$ref": "#/$defs/output"},  # --format json
        {"$ref": "#/$defs/report"},  # a line of --format jsonl; a report_path file
        {"$ref": "#/$defs/unreadable"},  # a line of --format jsonl
    ],
}
