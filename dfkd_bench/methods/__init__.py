"""Every module in this package is imported so its method registers itself: adding a method is one file."""

import importlib
import pkgutil

from dfkd_bench.methods.base import METHODS, Batch, Method, MethodContext

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["METHODS", "Batch", "Method", "MethodContext"]
