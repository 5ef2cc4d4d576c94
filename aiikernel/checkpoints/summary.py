"""Type and shape of a value in a few characters, without running the user's code.

``DataFrame 1000×5``, ``ndarray 200000 float64``, ``list len 4``, ``int``.  A checkpoint
stores this next to each name it examines, so the state diff of a turn (``df: 1000×5 →
980×6``) compares two stored strings and never looks at untouched data again.  Only
attributes of known array libraries and the length of built-in containers are read: a
user's class could run anything in a property or ``__len__``.
"""

from __future__ import annotations

from typing import Any

#: Top-level modules whose ``shape``/``dtype`` attributes are plain data, not user code.
ARRAY_MODULES = frozenset({"numpy", "pandas", "polars", "pyarrow", "torch", "xarray", "scipy"})
_SIZED = (str, bytes, bytearray, list, tuple, dict, set, frozenset)


def type_name(value: Any) -> str:
    """The class name (qualified by its top module when it is not a builtin or the notebook's)."""
    cls = type(value)
    module = getattr(cls, "__module__", "") or ""
    if module in ("builtins", "__main__"):
        return cls.__qualname__
    top = module.split(".")[0]
    return cls.__qualname__ if top in ARRAY_MODULES else f"{top}.{cls.__qualname__}"


def _from_array_library(value: Any) -> str:
    cls = type(value)
    top = (getattr(cls, "__module__", "") or "").split(".")[0]
    if top not in ARRAY_MODULES:
        return ""
    parts: list[str] = []
    try:
        shape = getattr(value, "shape", None)
        if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
            parts.append("×".join(str(n) for n in shape) if len(shape) != 1 else str(shape[0]))
        dtype = getattr(value, "dtype", None)
        if dtype is not None and not callable(dtype):
            parts.append(str(dtype))
    except Exception:  # a lazy frame whose shape needs work: say nothing rather than compute
        return ""
    return " ".join(parts)


def value_summary(value: Any) -> str:
    """``type [shape dtype | len N]`` for ``value`` (see the module docstring)."""
    name = type_name(value)
    if type(value) in _SIZED:
        return f"{name} len {len(value)}"
    facts = _from_array_library(value)
    return f"{name} {facts}" if facts else name


def shape_part(summary: str) -> str:
    """What follows the type in a summary (``1000×5``), or "" when there is nothing."""
    _, _, rest = summary.partition(" ")
    return rest
