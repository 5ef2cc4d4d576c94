"""Which names did the code run since the last checkpoint touch?

A checkpoint only re-examines touched names (plus new and deleted ones), so the
scan must over-approximate: every name loaded, stored, deleted or used as the base
of an attribute/subscript target counts, and so do the globals used by any
notebook-defined function the code refers to (``co_names`` of its code and nested
code, recursively, including the methods of notebook classes).  Anything the scan
cannot see through — ``exec``, ``eval``, ``globals()``, ``vars()``, ``locals()``,
``from m import *``, ``%run`` and magics other than a short list of known ones —
means "everything".

User cells and AI code fences both go through ``shell.run_cell``, so hooking
IPython's ``pre_run_cell``/``post_run_cell`` events sees all of them.  Code that
changes the namespace behind IPython's back (``shell.push``) should call
:meth:`TouchTracker.mark`.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Iterable
from typing import Any

#: Calls whose effect on the namespace a static scan cannot know.
OPAQUE_CALLS = frozenset({"exec", "eval", "globals", "vars", "locals", "__import__", "execfile"})

#: Magics that do not touch the namespace by themselves (``%%ai`` runs its fences
#: through run_cell, which is tracked separately).
INERT_MAGICS = frozenset(
    {
        "ai",
        "tree",
        "undo",
        "restore",
        "fork",
        "checkpoints",
        "model",
        "auth",
        "help",
        "pwd",
        "ls",
        "who",
        "whos",
        "matplotlib",
        "load_ext",
        "config",
        "env",
        "history",
        "pinfo",
        "pinfo2",
        "pip",
        "conda",
        "lsmagic",
    }
)
#: Magics whose argument (line or cell body) is Python run in the namespace.
CODE_MAGICS = frozenset({"time", "timeit", "capture", "prun"})

EVERYTHING = None


class _Scan(ast.NodeVisitor):
    """Collects names from one module AST; sets ``everything`` when it cannot tell."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.everything = False

    def visit_Name(self, node: ast.Name) -> None:
        self.names.add(node.id)
        if node.id in OPAQUE_CALLS:
            self.everything = True

    def visit_Global(self, node: ast.Global) -> None:
        self.names.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.names.update(node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.everything = True
            self.names.add(alias.asname or alias.name)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.names.add(alias.asname or alias.name.split(".")[0])

    def _def(self, node: Any) -> None:
        self.names.add(node.name)
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _def

    def visit_Call(self, node: ast.Call) -> None:
        magic = _magic_call(node)
        if magic is not None:
            name, code = magic
            if name in CODE_MAGICS and code is not None:
                inner = scan_source(code)
                if inner is None:
                    self.everything = True
                else:
                    self.names |= inner
            elif name not in INERT_MAGICS:
                self.everything = True
        self.generic_visit(node)


def _magic_call(node: ast.Call) -> tuple[str, str | None] | None:
    """``get_ipython().run_line_magic('time', 'x = 1')`` → ``('time', 'x = 1')``."""
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr in ("run_line_magic", "run_cell_magic")):
        return None
    args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
    if not args or not isinstance(args[0], str):
        return ("?", None)
    code = args[-1] if len(args) >= 2 and isinstance(args[-1], str) else None
    return args[0], code


def scan_source(code: str) -> set[str] | None:
    """Names a piece of Python source touches, or None for "could be anything"."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()  # a cell that does not parse runs nothing
    scan = _Scan()
    scan.visit(tree)
    return None if scan.everything else scan.names


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


class TouchTracker:
    """Accumulates the names executed cells touch; :meth:`take` hands them over and resets."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._names: set[str] = set()
        self._everything = False
        self._cell_names: set[str] = set()
        self._registered = False

    def register(self) -> None:
        """Start listening to the shell's cell events (idempotent)."""
        if self._registered:
            return
        self.shell.events.register("pre_run_cell", self._pre_run_cell)
        self.shell.events.register("post_run_cell", self._post_run_cell)
        self._registered = True

    def unregister(self) -> None:
        """Stop listening (the shell keeps no reference to this tracker afterwards)."""
        if not self._registered:
            return
        self.shell.events.unregister("pre_run_cell", self._pre_run_cell)
        self.shell.events.unregister("post_run_cell", self._post_run_cell)
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
        """Scan one cell's source (what the pre_run_cell hook does)."""
        try:
            code = self.shell.transform_cell(raw_cell)
        except Exception:
            self._everything = True
            return
        names = scan_source(code)
        if names is None:
            self._everything = True
            self._cell_names = set()
            return
        self._cell_names = names
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

    def _pre_run_cell(self, info: Any) -> None:
        try:
            self.observe(getattr(info, "raw_cell", "") or "")
        except Exception:  # a hook must never disturb the user's cell: examine everything
            self._everything = True

    def _post_run_cell(self, result: Any) -> None:
        # Functions defined and called in the same cell exist only now.
        try:
            if self._cell_names:
                self._add_with_definitions(self._cell_names)
        except Exception:
            self._everything = True
        finally:
            self._cell_names = set()
