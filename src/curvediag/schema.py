"""The JSON Schema of ``--format json``: one report for one readable input, else an array
holding, per input in the order given, its report or an unreadable input's ``{"path", "error"}``
entry (``--format jsonl``: one of those objects per line).  ``schema_version`` changes only with
a migration note in docs/json.md."""

from __future__ import annotations

from .report import SCHEMA_VERSION, SEVERITIES, VERDICTS

_NUM = {"oneOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]}
_NUM_OR_NULL = {"oneOf": [{"type": "null"}, *_NUM["oneOf"]]}
_HORIZON = {
    "oneOf": [
        {"type": "null"},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["position", "more", "value", "low", "high", "change", "change_low", "change_high"],
            "properties": {k: _NUM for k in ("position", "more", "value", "low", "high", "change", "change_low",
                                                "change_high")},
        },
    ]
}
_PROJECTION = {
    "oneOf": [
        {"type": "null"},
        {
            "type": "object",
            "additionalProperties": False,
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
            },
        },
    ]
}

REPORT = {
    "title": "curvediag report",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema_version", "curvediag_version", "source", "verdict", "severity", "headline", "best_epoch",
        "best_epoch_metric", "onset_epoch", "epochs_after_best", "final_gap", "interpretation", "findings",
        "skipped", "metrics", "projection", "remedies",
    ],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "curvediag_version": {"type": "string"},
        "source": {
            "type": "object",
            "additionalProperties": False,
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
            "properties": {"loss": _NUM_OR_NULL, "loss_relative": _NUM_OR_NULL, "acc": _NUM_OR_NULL},
        },
        "interpretation": {"type": ["string", "null"]},
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "name", "verdict", "severity", "message", "evidence", "span", "remedies"],
                "properties": {
                    "code": {"type": "string", "pattern": "^[A-Z][0-9]{3}$"},
                    "name": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
                    "verdict": {"enum": [*VERDICTS, None]},
                    "severity": {"enum": list(SEVERITIES)},
                    "message": {"type": "string"},
                    "evidence": {
                        "type": "object",
                        "additionalProperties": {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}]},
                    },
                    "span": {"oneOf": [{"type": "null"}, {"type": "array", "items": _NUM, "minItems": 2, "maxItems": 2}]},
                    "remedies": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "skipped": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "name", "reason"],
                "properties": {"code": {"type": "string"}, "name": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
        "metrics": {
            "type": "object",
            "propertyNames": {"enum": ["train_loss", "val_loss", "train_acc", "val_acc", "lr", "grad_norm"]},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["column", "points", "non_finite", "first", "best", "best_epoch", "last", "lower_is_better",
                             "label"],
                "properties": {
                    "column": {"type": "string"},
                    "points": {"type": "integer", "minimum": 0},
                    "non_finite": {"type": "integer", "minimum": 0},
                    "first": _NUM_OR_NULL,
                    "best": _NUM_OR_NULL,
                    "best_epoch": _NUM_OR_NULL,
                    "last": _NUM_OR_NULL,
                    "lower_is_better": {"type": "boolean"},
                    "label": {"type": "string"},
                },
            },
        },
        "projection": _PROJECTION,
        "remedies": {"type": "array", "items": {"type": "string"}},
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

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"https://curvediag.invalid/schema/report-v{SCHEMA_VERSION}.json",
    "title": "curvediag output",
    "$defs": {"report": REPORT, "unreadable": UNREADABLE},
    "oneOf": [
        {"$ref": "#/$defs/report"},
        {"$ref": "#/$defs/unreadable"},  # a line of --format jsonl
        {"type": "array", "items": {"oneOf": [{"$ref": "#/$defs/report"}, {"$ref": "#/$defs/unreadable"}]}},
    ],
}
