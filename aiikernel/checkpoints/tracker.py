"""Which names did the code run since the last checkpoint touch?

A checkpoint only re-examines touched names (plus new and deleted ones), so the
tracking must over-approximate: every name the code touches (:mod:`.scan`), and the
globals used by any notebook-defined function the code refers to (``co_names`` of its
code and nested code, recursively, including the methods of notebook classes).

User cells and AI code fences both go through ``shell.run_cell``. IPython parses each
cell once, through ``shell.compile.ast_parse``; the tracker wraps that method and scans
the tree IPython made, instead of transforming and parsing the cell a second time (which
cost +46 % on a 5,000-line cell). ``pre_run_cell``/``post_run_cell`` bracket a cell; a cell
whose parse the wrapper did not see (another compiler) is transformed and parsed again
after it ran. Code that changes the namespace behind IPython's back (``shell.push``)
should call :meth:`TouchTracker.mark`.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .scan import CODE_MAGICS, INERT_MAGICS, OPAQUE_CALLS, scan_source, scan_tree

__all__ = [
    "CODE_MAGICS",
    "INERT_MAGICS",
    "OPAQUE_CALLS",
    "TouchTracker",
    "names_used_by_definitions",
    "scan_source",
]

EVERYTHING = None


def _code_names(code: types.CodeType, seen: set[int]) -> set[str]:
    if id(code) in seen:
        return set()
    seen.add(id(code))
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const, seen)
    return names


def names_used_by_definitions(
    names: Iterable[str], namespace: dict, module: str
) -> set[str] | None:
    """Globals reachable through notebook functions/classes (and instances) among ``names``.

    None when one of those functions calls ``exec``, ``globals()`` and the like.
    """
    found: set[str] = set()
    pending = list(names)
    seen_code: set[int] = set()
    seen_names: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen_names:
            continue
        seen_names.add(name)
        value = namespace.get(name)
        for code in _definition_code(value, module):
            used_names = _code_names(code, seen_code)
            if used_names & OPAQUE_CALLS:
                return None
            for used in used_names:
                if used in namespace and used not in found:
                    found.add(used)
                    pending.append(used)
    return found


def _definition_code(value: Any, module: str) -> list[types.CodeType]:
    if isinstance(value, types.FunctionType):
        return [value.__code__] if value.__module__ == module else []
    cls = value if isinstance(value, type) else type(value)
    if getattr(cls, "__module__", None) != module:
        return []
    codes = []
    for klass in cls.__mro__:
        if getattr(klass, "__module__", None) != module:
            continue
        for attr in vars(klass).values():
            func = getattr(attr, "__func__", attr)
            if isinstance(func, types.FunctionType):
                codes.append(func.__code__)
    return codes


@dataclass
class _Cell:
    """One running cell: the names its parsed code touches, and whether a parse was seen."""

    raw: str
    names: set[str] = field(default_factory=set)
    parsed: bool = False


class TouchTracker:
    """Accumulates the names executed cells touch; :meth:`take` hands them over and resets."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._names: set[str] = set()
        self._everything = False
        self._cells: list[_Cell] = []  # nested: an %%ai cell runs its fences as cells
        self._registered = False
        self._compiler: Any = None
        self._parse_hook: Any = None

    def register(self) -> None:
        """Start listening to the shell's cell events and parses (idempotent)."""
        if self._registered:
            return
        self.shell.events.register("pre_run_cell", self._pre_run_cell)
        self.shell.events.register("post_run_cell", self._post_run_cell)
        self._wrap_parser()
        self._registered = True

    def unregister(self) -> None:
        """Stop listening (the shell keeps no reference to this tracker afterwards)."""
        if not self._registered:
            return
        self.shell.events.unregister("pre_run_cell", self._pre_run_cell)
        self.shell.events.unregister("post_run_cell", self._post_run_cell)
        self._unwrap_parser()
        self._registered = False

    def mark(self, *names: str) -> None:
        """Record names changed outside run_cell (``shell.push``, a command …)."""
        self._names.update(names)

    def mark_everything(self) -> None:
        """The next checkpoint must examine every name."""
        self._everything = True

    def take(self) -> set[str] | None:
        """Names touched since the last call (None means everything), and reset."""
        names, everything = self._names, self._everything
        self._names, self._everything = set(), False
        return None if everything else names

    def observe(self, raw_cell: str) -> None:
        """Transform, parse and scan one cell's source (for cells whose parse was not seen)."""
        try:
            code = self.shell.transform_cell(raw_cell)
        except Exception:
            self._everything = True
            return
        self._record(scan_source(code))

    def _record(self, names: set[str] | None) -> None:
        if names is None:
            self._everything = True
            return
        if self._cells:
            self._cells[-1].names |= names
        self._add_with_definitions(names)

    def _add_with_definitions(self, names: set[str]) -> None:
        namespace = self.shell.user_ns
        module = namespace.get("__name__", "__main__")
        self._names |= names
        used = names_used_by_definitions(names, namespace, module)
        if used is None:
            self._everything = True
        else:
            self._names |= used

    # -- the parse hook ---------------------------------------------------------

    def _wrap_parser(self) -> None:
        compiler = getattr(self.shell, "compile", None)
        original = getattr(compiler, "ast_parse", None)
        if original is None:
            return  # no hook: every cell takes the observe() path
        tracker = self

        def ast_parse(*args: Any, **kwargs: Any) -> Any:
            tree = original(*args, **kwargs)
            tracker._parsed(tree)
            return tree

        ast_parse.__wrapped__ = original  # type: ignore[attr-defined]
        compiler.ast_parse = ast_parse
        self._compiler, self._parse_hook = compiler, ast_parse

    def _unwrap_parser(self) -> None:
        compiler, hook = self._compiler, self._parse_hook
        self._compiler = self._parse_hook = None
        if compiler is None or compiler.__dict__.get("ast_parse") is not hook:
            return  # someone wrapped it after us; _parsed() is now inert (not registered)
        original = hook.__wrapped__
        if getattr(original, "__self__", None) is compiler:
            del compiler.ast_parse  # the class's own method again
        else:
            compiler.ast_parse = original

    def _parsed(self, tree: Any) -> None:
        if not self._registered:
            return
        try:
            if self._cells:
                self._cells[-1].parsed = True
            self._record(scan_tree(tree))
        except Exception:  # a hook must never disturb the user's cell: examine everything
            self._everything = True

    # -- cell events ------------------------------------------------------------

    def _pre_run_cell(self, info: Any) -> None:
        self._cells.append(_Cell(raw=getattr(info, "raw_cell", "") or ""))

    def _post_run_cell(self, result: Any) -> None:
        cell = self._cells.pop() if self._cells else None
        try:
            if cell is None:
                return
            if not cell.parsed:
                if getattr(result, "error_before_exec", None) is None:
                    self.observe(cell.raw)
                return
            # Functions defined and called in the same cell exist only now.
            if cell.names:
                self._add_with_definitions(cell.names)
        except Exception:  # a hook must never disturb the user's cell: examine everything
            self._everything = True
