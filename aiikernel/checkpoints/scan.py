"""The names a piece of code touches, read from its AST in one flat pass.

Every name loaded, stored or deleted counts (so does the base of an attribute or subscript
target, which is a loaded name), and so do the names bound by ``import``, ``def``, ``class``,
``global``/``nonlocal``, ``except … as`` and ``match`` patterns. Code the scan cannot see
through — ``exec``, ``eval``, ``globals()``, ``vars()``, ``locals()``, ``from m import *``,
``%run`` and magics other than a short list of known ones — means "everything" (None).

The pass is a loop over an explicit stack, not an :class:`ast.NodeVisitor`: it runs on every
cell, and the visitor's per-node method dispatch cost 3–5× more (same names on 31,000 files).
"""

from __future__ import annotations

import ast
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

_MAGIC_METHODS = ("run_line_magic", "run_cell_magic")
#: Fields that never hold a node with names below it: operator and context singletons
#: (Load(), Add()), plain strings and numbers, and the string lists of the binders below.
_LEAF_FIELDS = frozenset(
    {"ctx", "op", "ops", "id", "attr", "arg", "name", "names", "rest", "kwd_attrs", "module"}
    | {"level", "kind", "conversion", "type_comment", "is_async", "simple", "tag", "lineno"}
)
_child_fields: dict[type, tuple[str, ...]] = {}


def _fields_of(kind: type) -> tuple[str, ...]:
    fields = _child_fields.get(kind)
    if fields is None:
        every = getattr(kind, "_fields", ())  # () for a plain value (MatchSingleton's True)
        fields = _child_fields[kind] = tuple(f for f in every if f not in _LEAF_FIELDS)
    return fields


def scan_source(code: str) -> set[str] | None:
    """Names a piece of Python source touches, or None for "could be anything"."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()  # a cell that does not parse runs nothing
    return scan_tree(tree)


def scan_tree(tree: ast.AST) -> set[str] | None:
    """Names the code of ``tree`` touches, or None for "could be anything"."""
    names: set[str] = set()  # from Name nodes: only these can be calls to exec, eval, …
    bound: set[str] = set()  # from binders (a method may be called ``eval``) and code magics
    add = names.add
    stack: list[Any] = [tree]
    pop, push, extend = stack.pop, stack.append, stack.extend
    name_type, constant_type, call_type = ast.Name, ast.Constant, ast.Call
    fields_get = _child_fields.get
    while stack:
        node = pop()
        kind = type(node)
        if kind is name_type:
            add(node.id)
            continue
        if kind is constant_type or node is None:  # None: a Dict's ``**spread`` key
            continue
        if kind is call_type:
            if _imports_our_own(node):  # the chat panel's request: not "anything changed"
                extend(node.keywords)
                continue
            if not _call_is_transparent(node, bound):
                return None
        else:
            binder = _BINDERS.get(kind)
            if binder is not None and not binder(node, bound):
                return None
        for field in fields_get(kind) or _fields_of(kind):
            value = getattr(node, field, None)
            if value.__class__ is list:
                extend(value)
            elif value is not None:
                push(value)
    return None if not names.isdisjoint(OPAQUE_CALLS) else names | bound


def _imports_our_own(node: ast.Call) -> bool:
    """``__import__("aiikernel…")``: how the chat panel reaches the kernel's chat hub. It binds
    nothing in the namespace, unlike an ``__import__`` of a name the scan cannot read."""
    func, args = node.func, node.args
    return (
        type(func) is ast.Name
        and func.id == "__import__"
        and len(args) == 1
        and type(args[0]) is ast.Constant
        and isinstance(args[0].value, str)
        and (args[0].value == "aiikernel" or args[0].value.startswith("aiikernel."))
    )


def _call_is_transparent(node: ast.Call, names: set[str]) -> bool:
    """False for a magic call the scan cannot see through; a code magic's code is scanned."""
    func = node.func
    if not (type(func) is ast.Attribute and func.attr in _MAGIC_METHODS):
        return True
    name, code = _magic_call(node)
    if name in CODE_MAGICS and code is not None:
        inner = scan_source(code)
        if inner is None:
            return False
        names |= inner
        return True
    return name in INERT_MAGICS


def _magic_call(node: ast.Call) -> tuple[str, str | None]:
    """``get_ipython().run_line_magic('time', 'x = 1')`` → ``('time', 'x = 1')``."""
    args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
    if not args or not isinstance(args[0], str):
        return ("?", None)
    code = args[-1] if len(args) >= 2 and isinstance(args[-1], str) else None
    return args[0], code


def _bind_names(node: Any, names: set[str]) -> bool:
    names.update(node.names)
    return True


def _bind_name(node: Any, names: set[str]) -> bool:
    if node.name:
        names.add(node.name)
    return True


def _bind_rest(node: Any, names: set[str]) -> bool:
    if node.rest:
        names.add(node.rest)
    return True


def _bind_import(node: Any, names: set[str]) -> bool:
    for alias in node.names:
        if alias.name == "*":
            return False
        names.add(alias.asname or alias.name.split(".")[0])
    return True


#: Nodes that bind names held as strings rather than as ``Name`` nodes. A handler returns
#: False when the node makes the scan give up.
_BINDERS: dict[type, Any] = {
    ast.Global: _bind_names,
    ast.Nonlocal: _bind_names,
    ast.Import: _bind_import,
    ast.ImportFrom: _bind_import,
    ast.FunctionDef: _bind_name,
    ast.AsyncFunctionDef: _bind_name,
    ast.ClassDef: _bind_name,
    ast.ExceptHandler: _bind_name,
    ast.MatchAs: _bind_name,
    ast.MatchStar: _bind_name,
    ast.MatchMapping: _bind_rest,
}
if hasattr(ast, "TypeAlias"):  # Python 3.12+: ``type X = …`` holds its Name in ``name``
    _BINDERS[ast.TypeAlias] = lambda node, names: names.add(node.name.id) or True
