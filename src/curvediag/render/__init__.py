"""Renderers: read a :class:`~curvediag.report.Report`, never change it."""

from __future__ import annotations

RENDERERS = ("text", "json", "jsonl", "markdown", "github", "junit")
