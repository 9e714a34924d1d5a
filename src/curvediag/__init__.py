"""curvediag: a linter for training curves.

    >>> import curvediag
    >>> report = curvediag.diagnose("history.csv")
    >>> report.verdict
    'overfitting'

Heavy modules (pandas) load on first use, so ``curvediag --help`` stays fast.
"""

from __future__ import annotations

from ._version import __version__

__all__ = ["__version__", "diagnose", "diagnose_many", "compare", "diagnose_frame", "diagnose_run", "Monitor", "Settings",
           "Report", "Finding", "Skipped", "MetricSummary", "CurvediagError", "InputError", "UsageError", "MissingExtra",
           "Verdict"]


def __getattr__(name: str):
    if name == "diagnose":
        from .api import diagnose

        return diagnose
    if name == "diagnose_many":
        from .api import diagnose_many

        return diagnose_many
    if name == "compare":
        from .comparison import compare

        return compare
    if name in ("diagnose_frame", "diagnose_run"):
        from . import frames

        return getattr(frames, name)
    if name in ("Monitor", "Alert"):
        from . import monitor

        return getattr(monitor, name)
    if name == "Settings":
        from .settings import Settings

        return Settings
    if name == "Verdict":
        from .verdict import Verdict

        return Verdict
    if name in ("Report", "Finding", "Skipped", "MetricSummary", "Metrics"):
        from . import report

        return getattr(report, name)
    if name in ("InputError", "CurvediagError", "UsageError", "MissingExtra"):
        from . import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'curvediag' has no attribute {name!r}")
