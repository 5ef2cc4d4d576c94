"""A budgeted, safe summary of the live namespace for the model's system prompt.

The model needs to know what exists (names, types, shapes, a glimpse of values)
without us paying for — or leaking — full reprs of big objects.  Private names,
modules and IPython's own bookkeeping are skipped.  A repr that raises is
reported as such; nothing here may break a turn.
"""

from __future__ import annotations

import inspect
import reprlib
import types
from collections.abc import Iterable, Mapping
from typing import Any

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 6
_REPR.maxlevel = 2

_SKIP_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython", "images"})
_VALUE_LIMIT = 80


def _type_name(obj: Any) -> str:
    cls = type(obj)
    module = cls.__module__
    if module in ("builtins", "__main__"):
        return cls.__qualname__
    top = module.split(".")[0]
    return f"{top}.{cls.__qualname__}"


def _shape_info(obj: Any) -> str:
    """Shape, length and dtype facts that are cheap to get."""
    parts = []
    shape = getattr(obj, "shape", None)
    if isinstance(shape, tuple):
        parts.append(f"shape={shape}")
    dtype = getattr(obj, "dtype", None)
    if dtype is not None and not callable(dtype):
        parts.append(f"dtype={dtype}")
    dtypes = getattr(obj, "dtypes", None)
    columns = getattr(obj, "columns", None)
    if dtypes is not None and columns is not None:
        try:
            cols = [f"{c}:{t}" for c, t in list(zip(columns, dtypes, strict=False))[:8]]
            more = len(columns) - len(cols)
            parts.append("columns=[" + ", ".join(cols) + (f", …+{more}" if more > 0 else "") + "]")
        except Exception:
            pass
    elif shape is None and isinstance(obj, (list, tuple, dict, set, frozenset, str, bytes)):
        parts.append(f"len={len(obj)}")
    return " ".join(parts)


def _short_value(obj: Any) -> str:
    if inspect.isroutine(obj) or inspect.isclass(obj):
        try:
            return f"{getattr(obj, '__name__', '?')}{inspect.signature(obj)}"
        except (TypeError, ValueError):
            return getattr(obj, "__name__", "?")
    if hasattr(obj, "shape") and hasattr(obj, "dtype") or hasattr(obj, "columns"):
        return ""  # arrays/frames: shape and dtypes say more than a truncated repr
    try:
        text = _REPR.repr(obj)
    except Exception as exc:
        return f"<repr failed: {type(exc).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"


def describe(name: str, obj: Any) -> str:
    """One line describing ``name``."""
    facts = _shape_info(obj) if not isinstance(obj, type) else ""
    value = _short_value(obj)
    line = f"- {name}: {_type_name(obj)}"
    if facts:
        line += f" {facts}"
    if value:
        line += f" = {value}"
    return line


def visible_names(namespace: Mapping[str, Any], hidden: Iterable[str] = ()) -> list[str]:
    """User-visible names in insertion order (skips private, modules, IPython's own)."""
    hidden_set = set(hidden)
    return [
        name
        for name, obj in list(namespace.items())
        if not name.startswith("_")
        and name not in _SKIP_NAMES
        and name not in hidden_set
        and not isinstance(obj, types.ModuleType)
    ]


def summarize_namespace(
    namespace: Mapping[str, Any], hidden: Iterable[str] = (), budget: int = 6000
) -> str:
    """The namespace as Markdown bullet lines, newest names last, within ``budget`` chars."""
    names = visible_names(namespace, hidden)
    modules = sorted(
        name
        for name, obj in list(namespace.items())
        if isinstance(obj, types.ModuleType) and not name.startswith("_")
    )
    lines: list[str] = []
    used = 0
    # Newest names matter most: fill the budget from the end, then restore order.
    for name in reversed(names):
        line = describe(name, namespace[name])
        if used + len(line) + 1 > budget:
            break
        lines.append(line)
        used += len(line) + 1
    lines.reverse()
    omitted = len(names) - len(lines)
    out = "\n".join(lines) if lines else "(no user variables yet)"
    if omitted:
        out = f"({omitted} older names not listed)\n" + out
    if modules:
        mod_line = "Imported modules: " + ", ".join(modules)
        out += "\n" + (mod_line if len(mod_line) < 400 else mod_line[:399] + "…")
    return out
