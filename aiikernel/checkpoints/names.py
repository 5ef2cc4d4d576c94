"""Which namespace names a checkpoint stores, and which values count as "shared".

IPython keeps its own bookkeeping in the user namespace (``In``, ``Out``, ``_3``,
``_i3``, ``get_ipython`` …).  Those are never stored and never removed by a
restore: rolling them back would corrupt the shell's history.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable, Mapping
from typing import Any

IPYTHON_NAMES = frozenset(
    {"In", "Out", "_", "__", "___", "_oh", "_dh", "_ih", "exit", "quit", "get_ipython"}
)
_IPYTHON_PATTERN = re.compile(r"^(_i+\d*|_\d+)$")

#: Immutable values whose identity means nothing (and that interpreters share freely).
_ATOMS = (
    str,
    bytes,
    int,
    float,
    complex,
    bool,
    type(None),
    tuple,
    frozenset,
    range,
    slice,
    types.ModuleType,
    types.BuiltinFunctionType,
    types.MethodWrapperType,
    type(Ellipsis),
    type(NotImplemented),
)


def is_internal(name: str) -> bool:
    """IPython's own names and dunders: never stored, never removed."""
    if name in IPYTHON_NAMES or _IPYTHON_PATTERN.match(name):
        return True
    return name.startswith("__") and name.endswith("__")


def checkpointable_names(namespace: Mapping[str, Any], hidden: Iterable[str]) -> list[str]:
    """The user's names in ``namespace``, sorted, minus ``hidden`` and IPython internals."""
    hidden = set(hidden)
    return sorted(n for n in namespace if n not in hidden and not is_internal(n))


def namespace_module(namespace: Mapping[str, Any]) -> str:
    """The module name code run in ``namespace`` gets (``__main__`` in IPython)."""
    name = namespace.get("__name__")
    return name if isinstance(name, str) else "__main__"


def is_notebook_definition(value: Any, module: str) -> bool:
    """A function or class written in the notebook, which must be stored by value."""
    if isinstance(value, (types.FunctionType, type)):
        return getattr(value, "__module__", None) == module
    return False


def is_shareable(value: Any, module: str) -> bool:
    """Whether another variable holding ``value`` means the two must stay the same object."""
    if isinstance(value, _ATOMS):
        return False
    if isinstance(value, (type, types.FunctionType)):
        return is_notebook_definition(value, module)
    numpy = _numpy_if_loaded()
    if numpy is not None and isinstance(value, (numpy.dtype, numpy.generic)):
        return False
    return True


def _numpy_if_loaded() -> Any:
    import sys

    return sys.modules.get("numpy")
