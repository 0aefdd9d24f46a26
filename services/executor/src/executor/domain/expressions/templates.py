"""`{{ path }}` interpolation in any JSON value, compiled once and rendered per node run."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from executor.domain.expressions.compile_cache import CompileCache
from executor.domain.expressions.text_form import json_copy, text_of, tree_copy
from executor.domain.expressions.variable_paths import MISSING, PathReader, path_reader

# Braces may not appear inside a placeholder, so `{{{x}}}` is a brace around `{{x}}`.
_PLACEHOLDER: Final = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


# Not frozen: a frozen dataclass costs twice as much to build, on every render.
@dataclass(slots=True)
class Rendered:
    """A rendered value and the placeholders left as written because their path was missing."""

    value: Any
    missing: tuple[str, ...]


class _Part:
    """A compiled piece of a value; `render` appends unresolved paths to `missing`."""

    __slots__ = ()

    def render(self, ctx: dict[str, Any], missing: list[str]) -> Any:
        raise NotImplementedError


class _Constant(_Part):
    __slots__ = ("copy", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        # Containers are copied on every render so a caller mutating the result cannot corrupt
        # the cache; a flat one (`[]`, `{"a": 1}`) only needs the cheap shallow copy.
        self.copy: Callable[[Any], Any] | None = None
        if isinstance(value, dict):
            flat = not any(isinstance(item, dict | list) for item in value.values())
            self.copy = dict.copy if flat else json_copy
        elif isinstance(value, list):
            flat = not any(isinstance(item, dict | list) for item in value)
            self.copy = list.copy if flat else json_copy

    def render(self, ctx: dict[str, Any], missing: list[str]) -> Any:
        return self.value if self.copy is None else self.copy(self.value)


class _WholeValue(_Part):
    """A string that is exactly one placeholder: the value keeps its type."""

    __slots__ = ("path", "read", "written")

    def __init__(self, path: str, written: str) -> None:
        self.path = path
        self.written = written
        self.read: PathReader = path_reader(path)

    def render(self, ctx: dict[str, Any], missing: list[str]) -> Any:
        value = self.read(ctx)
        if value is MISSING:
            missing.append(self.path)
            return self.written
        # Copied so the rendered config never aliases the context's variables.
        return json_copy(value) if isinstance(value, dict | list | tuple) else value


class _Interpolated(_Part):
    """Text with placeholders: every value is written in its text form."""

    __slots__ = ("pieces",)

    def __init__(self, pieces: tuple[str | tuple[str, str, PathReader], ...]) -> None:
        self.pieces = pieces

    def render(self, ctx: dict[str, Any], missing: list[str]) -> str:
        out: list[str] = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            path, written, read = piece
            value = read(ctx)
            if value is MISSING:
                missing.append(path)
                out.append(written)
            else:
                out.append(value if type(value) is str else text_of(value))
        return "".join(out)


class _ListOf(_Part):
    __slots__ = ("items",)

    def __init__(self, items: tuple[_Part, ...]) -> None:
        self.items = items

    def render(self, ctx: dict[str, Any], missing: list[str]) -> list[Any]:
        return [item.render(ctx, missing) for item in self.items]


class _DictOf(_Part):
    __slots__ = ("items",)

    def __init__(self, items: tuple[tuple[Any, _Part], ...]) -> None:
        self.items = items

    def render(self, ctx: dict[str, Any], missing: list[str]) -> dict[Any, Any]:
        return {key: part.render(ctx, missing) for key, part in self.items}


def whole_placeholder(text: str) -> str | None:
    """The path of a string that is exactly one placeholder (`"{{ items }}"`), else None."""
    whole = _PLACEHOLDER.fullmatch(text)
    return whole.group(1) if whole is not None and whole.group(1) else None


def _compile_string(text: str, paths: list[str]) -> _Part:
    whole = whole_placeholder(text)
    if whole is not None:
        paths.append(whole)
        return _WholeValue(whole, text)
    pieces: list[str | tuple[str, str, PathReader]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        path = match.group(1)
        if not path:
            continue  # `{{ }}` names nothing: it stays literal text.
        if match.start() > position:
            pieces.append(text[position : match.start()])
        pieces.append((path, match.group(0), path_reader(path)))
        paths.append(path)
        position = match.end()
    if not any(type(piece) is tuple for piece in pieces):
        return _Constant(text)
    if position < len(text):
        pieces.append(text[position:])
    return _Interpolated(tuple(pieces))


def _compile_part(value: Any, paths: list[str]) -> _Part:
    if isinstance(value, str):
        return _compile_string(value, paths)
    if isinstance(value, dict):
        items = tuple((key, _compile_part(item, paths)) for key, item in value.items())
        if all(isinstance(part, _Constant) for _, part in items):
            return _Constant(tree_copy(value))
        return _DictOf(items)
    if isinstance(value, list | tuple):
        parts = tuple(_compile_part(item, paths) for item in value)
        if all(isinstance(part, _Constant) for part in parts):
            return _Constant(tree_copy(value))
        return _ListOf(parts)
    return _Constant(value)


class Template:
    """A config value with `{{ path }}` placeholders, compiled once, rendered per node run.

    Build with `Template.compile(value)`: equal values share one compiled template.
    """

    __slots__ = ("_root", "is_static", "placeholders")

    def __init__(self, root: _Part, placeholders: tuple[str, ...]) -> None:
        self._root = root
        self.placeholders = placeholders
        """Every path the template reads, in order of first appearance, without repeats."""
        self.is_static = not placeholders
        """True when rendering needs no context (the value has no placeholder)."""

    @staticmethod
    def compile(value: Any) -> Template:
        """The compiled template of any JSON value (str, list, dict, number, bool, null)."""
        return _TEMPLATES.get(value)

    def render(self, ctx: dict[str, Any]) -> Rendered:
        """The value with every resolvable placeholder replaced; never raises."""
        missing: list[str] = []
        value = self._root.render(ctx, missing)
        if not missing:
            return Rendered(value, ())
        return Rendered(value, tuple(dict.fromkeys(missing)))

    def __repr__(self) -> str:
        return f"Template(placeholders={self.placeholders!r})"


def _compile_template(value: Any) -> Template:
    paths: list[str] = []
    root = _compile_part(value, paths)
    return Template(root, tuple(dict.fromkeys(paths)))


_TEMPLATES: Final[CompileCache[Template]] = CompileCache(_compile_template)
