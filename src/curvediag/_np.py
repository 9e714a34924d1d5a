"""numpy, imported on first use.

``curvediag rules``, ``rule`` and ``--help`` load the rule classes (their
docstrings are the docs) without paying for numpy; everything else imports it
the first time an attribute is used.  Type checkers are shown ``import numpy as np``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING


class _LazyNumpy:
    def __getattr__(self, name: str):
        # kept on the instance: the next lookup of the name is a plain attribute read
        value = getattr(importlib.import_module("numpy"), name)
        self.__dict__[name] = value
        return value


if TYPE_CHECKING:  # type checkers see the real module; at run time it loads on first use
    import numpy as np
else:
    np = _LazyNumpy()
