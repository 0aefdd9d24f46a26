"""A bounded cache of compiled configs, keyed by value so equal configs compile once.

Templates and conditions are compiled once per workflow version; versions are immutable JSON, so
two equal configs (the same node in two executions, or the same text in two nodes) can share one
compiled object. The key keeps types apart (1, 1.0 and True are different configs).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

Compiled = TypeVar("Compiled")

_UNHASHABLE = object()


def config_key(value: Any) -> Hashable:
    """A hashable, type-exact key for a JSON-shaped value; `_UNHASHABLE` for anything else."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return (kind, value)
    if kind is dict:
        items = []
        for key, item in value.items():
            item_key = config_key(item)
            if item_key is _UNHASHABLE:
                return _UNHASHABLE
            items.append((config_key(key), item_key))
        return (dict, tuple(items))
    if kind is list or kind is tuple:
        members = tuple(config_key(item) for item in value)
        if any(member is _UNHASHABLE for member in members):
            return _UNHASHABLE
        return (list, members)
    return _UNHASHABLE


class CompileCache(Generic[Compiled]):
    """Remembers up to `capacity` compiled values; the oldest entry goes first when full."""

    def __init__(self, compile_value: Callable[[Any], Compiled], capacity: int = 4096) -> None:
        self._compile_value = compile_value
        self._capacity = capacity
        self._entries: dict[Hashable, Compiled] = {}

    def get(self, value: Any) -> Compiled:
        """The compiled form of `value`, compiling it on first sight."""
        if type(value) is str:
            # Fast path for the common case: a string is its own exact key.
            key: Hashable = value
        else:
            try:
                key = config_key(value)
            except RecursionError:
                key = _UNHASHABLE  # Absurdly deep values are compiled, just not cached.
            if key is _UNHASHABLE:
                return self._compile_value(value)
        compiled = self._entries.get(key)
        if compiled is None:
            compiled = self._compile_value(value)
            if len(self._entries) >= self._capacity:
                self._entries.pop(next(iter(self._entries)), None)
            self._entries[key] = compiled
        return compiled

    def clear(self) -> None:
        """Forget every entry (tests use this to measure cold compiles)."""
        self._entries.clear()
