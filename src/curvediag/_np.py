"""numpy, imported on first use.

``curvediag rules``, ``rule`` and ``--help`` load the rule classes (their
docstrings are the docs) without paying for numpy; everything else imports it
the first time an attribute is used.
"""

from __future__ import annotations

import importlib


class _LazyNumpy:
    __slots__ = ()

    def __getattr__(self, name: str):
        return getattr(importlib.import_module("numpy"), name)


np = _LazyNumpy()
