"""Things registered by name: ``@TOWERS.register("small_cnn")``, then ``TOWERS.get("small_cnn")``.

One helper for the project's registries (image towers, classifier backends, eval suites, benchmarks).
A registry refuses a name registered twice for two different objects, and an unknown name is a
``ValueError`` that lists what is available, sorted: ``unknown image tower 'x'; available: a, b``.

Entries may live in the modules of a package, registered when the module is imported:

* ``Registry(kind, package, lazy=True)``: each module registers the entry of its own name
  (``models/classifiers/qwen2vl.py`` registers ``qwen2vl``). Listing reads the module names without
  importing anything; ``get`` imports only the module asked for, so a heavy backend costs nothing until used.
* ``Registry(kind, package)``: a module may register any names; listing imports every module first.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Generic, Iterable, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str | None = None, lazy: bool = False) -> None:
        if lazy and package is None:
            raise ValueError("a lazy registry needs the package its modules live in")
        self.kind = kind
        self.package = package
        self.lazy = lazy
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: file ``obj`` under ``name``; registering the same object again is a no-op."""

        def add(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._entries[name] = obj
            return obj

        return add

    def modules(self) -> list[str]:
        """The package's public module names (not imported)."""
        if self.package is None:
            return []
        path = importlib.import_module(self.package).__path__
        return sorted(m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_"))

    def names(self) -> list[str]:
        """Every name that can be asked for, sorted."""
        if self.lazy:
            return sorted({*self._entries, *self.modules()})
        for module in self.modules():
            importlib.import_module(f"{self.package}.{module}")
        return sorted(self._entries)

    def get(self, name: str) -> T:
        """The entry called ``name``, importing its module first in a lazy registry."""
        if name not in self._entries and self.lazy and name in self.modules():
            importlib.import_module(f"{self.package}.{name}")
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}")
        return self._entries[name]

    def require(self, names: Iterable[str]) -> None:
        """Raise one ``ValueError`` naming every unknown name in ``names``."""
        available = self.names()
        unknown = [n for n in names if n not in available]
        if unknown:
            raise ValueError(f"unknown {self.kind}(s) {', '.join(unknown)}; available: {', '.join(available)}")

    # Plain mapping access to what is registered now (no import, no checks): ``in``, ``[]``, and for tests
    # that stand in an entry or remove one, item assignment and ``pop``.
    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __setitem__(self, name: str, obj: T) -> None:
        self._entries[name] = obj

    def pop(self, name: str, default: T | None = None) -> T | None:
        return self._entries.pop(name, default)
