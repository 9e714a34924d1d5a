"""Errors that end an input with exit status 2 and one line on stderr."""

from __future__ import annotations


class CurvediagError(Exception):
    """Base class for every error curvediag reports to the user."""


class InputError(CurvediagError):
    """The input cannot be read as a training log.

    ``str(err)`` is the one line shown to the user: ``<source>: <problem>``.
    """

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class UsageError(CurvediagError):
    """A bad option value given by the caller."""


class MissingExtra(UsageError):
    """An optional part needs a package that is not installed (``--plot`` without the ``plot``
    extra's matplotlib).  ``str(err)`` says what to install; the CLI warns and goes on."""
