"""The version of curvediag (``curvediag.__version__``, ``Report.curvediag_version``; pyproject.toml
reads it here).  A module of its own so that ``curvediag --version`` and ``--help`` load nothing else."""

__version__ = "0.1.0"
