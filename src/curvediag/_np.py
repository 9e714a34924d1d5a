"""numpy, imported on first use.

``curvediag rules``, ``rule`` and ``--help`` load the rule classes (their
docstrings are the docs) without paying for numpy; everything else imports it
the first time an attribute is used.  Type checkers are shown ``import numpy as np``.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any, Callable, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])


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


def quiet_numerics(fn: _F) -> _F:
    """``fn`` with numpy's floating-point warnings off (overflow, invalid value, division by zero,
    the mean of an empty slice): losses of +-1e308 overflow in differences and products, and the
    rules read the resulting infinities and NaNs as they read recorded ones.  Nothing reaches
    stderr but the one-line messages curvediag means to print."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        import warnings

        numpy = importlib.import_module("numpy")
        with numpy.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args, **kwargs)

    return run  # type: ignore[return-value]
