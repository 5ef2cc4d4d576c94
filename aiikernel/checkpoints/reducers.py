"""Reductions for what the stdlib pickles badly: notebook code, arrays, string columns.

Every ``rebuild_*`` function here is named in stored pickles by its import path
(``aiikernel.checkpoints.reducers.rebuild_function``): renaming one breaks
existing stores.

* Notebook functions and classes are stored *by value* (marshalled code, closure,
  defaults, class attributes), so a restore brings back the definition as it was.
  Methods are attached after their class exists, because their closures may hold
  the class (``super()``); strings are interned so equal definitions pickle to
  equal bytes (pickle memoizes strings by identity).
* Contiguous numpy arrays of any plain dtype (datetime64 included, which numpy
  itself pickles in band) become one out-of-band buffer.
* Object arrays holding only strings (pandas object and python-storage string
  columns) become batches of UTF-8 text plus lengths, streamed out of band, so
  millions of strings never pass through the pickler's memo.
* Objects of the running process (the shell, the kernel, sockets, threads) are
  refused at once by type.
"""

from __future__ import annotations

import functools
import marshal
import pickle
import sys
import types
from collections.abc import Iterator
from typing import Any

#: Arrays smaller than this stay in band: a buffer per tiny array costs more than it saves.
MIN_OUT_OF_BAND = 64 * 1024


def rebuild_array(buffer: Any, dtype: Any, shape: tuple[int, ...], order: str, writeable: bool):
    """Unpickle-time counterpart of :func:`reduce_array`."""
    import numpy as np

    array = np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)
    if not writeable:
        array.flags.writeable = False
    return array


def reduce_array(obj: Any) -> Any:
    """A contiguous plain-dtype array as one out-of-band buffer (NotImplemented otherwise)."""
    if obj.dtype.hasobject:
        return reduce_string_array(obj)
    if obj.nbytes < MIN_OUT_OF_BAND:
        return NotImplemented
    if obj.flags.c_contiguous:
        order = "C"
    elif obj.flags.f_contiguous:
        order = "F"
    else:
        return NotImplemented
    # A flat byte view exports any dtype (datetime64 refuses the buffer protocol).
    buffer = pickle.PickleBuffer(obj.reshape(-1, order=order).view("u1"))
    return rebuild_array, (buffer, obj.dtype, obj.shape, order, bool(obj.flags.writeable))


#: Objects of these modules belong to the running process (the shell, the kernel,
#: sockets, threads …): never worth a pickling attempt, which for the shell would
#: walk the whole kernel before failing.
PROCESS_BOUND_MODULES = (
    "ipykernel",
    "zmq",
    "jupyter_client",
    "tornado",
    "asyncio",
    "_asyncio",
    "aiikernel.session",
    "aiikernel.kernel",
    "aiikernel.checkpoints.store",
    "aiikernel.checkpoints.tracker",
    "aiikernel.turn",
    "aiikernel.lm",
    "aiikernel.aimax",
    "aiikernel.server",
    "IPython.core.interactiveshell",
    "IPython.core.history",
    "IPython.core.displayhook",
    "IPython.core.displaypub",
    "IPython.core.magic",
    "IPython.core.events",
    "IPython.terminal",
    "sqlite3",
    "threading",
    "_thread",
    "socket",
    "_socket",
    "selectors",
    "concurrent.futures",
    "subprocess",
    "multiprocessing",
)


class ProcessBoundError(TypeError):
    """An object tied to this process (shell, kernel, socket …) was reached."""


def is_process_bound(kind: type) -> bool:
    """Whether instances of ``kind`` belong to the running process."""
    module = getattr(kind, "__module__", None) or ""
    return any(module == m or module.startswith(m + ".") for m in PROCESS_BOUND_MODULES)


# -- object arrays of strings (pandas object / python-storage string columns) ----

#: Strings per out-of-band batch; an object array smaller than MIN_STRING_ARRAY is
#: pickled the ordinary way.
STRING_BATCH = 65536
MIN_STRING_ARRAY = 4096


class StringBatches:
    """The strings of an object array as (UTF-8 text, lengths) buffer pairs, made lazily.

    Pickled one string at a time, 4 M strings cost a pickler memo of ~200 MB; as
    batches streamed through the out-of-band buffer callback they cost one batch.
    """

    def __init__(self, items: list, missing: dict[int, Any]) -> None:
        self.items = items
        self.missing = missing

    def buffers(self) -> Iterator[pickle.PickleBuffer]:
        import numpy as np

        for start in range(0, len(self.items), STRING_BATCH):
            batch = self.items[start : start + STRING_BATCH]
            if self.missing:
                batch = [x if type(x) is str else "" for x in batch]
            text = "".join(batch).encode("utf-8", "surrogatepass")
            lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
            yield pickle.PickleBuffer(text)
            yield pickle.PickleBuffer(lengths)


def reduce_string_array(obj: Any) -> Any:
    if obj.ndim == 0 or obj.size < MIN_STRING_ARRAY:
        return NotImplemented
    order = "F" if obj.flags.f_contiguous and not obj.flags.c_contiguous else "C"
    items = obj.ravel(order=order).tolist()
    kinds = set(map(type, items))
    if str not in kinds:
        return NotImplemented
    missing: dict[int, Any] = {}
    if len(kinds) > 1:
        if any(k not in _MISSING_TYPES and k.__name__ not in ("NAType", "NaTType") for k in kinds):
            return NotImplemented  # real objects: keep identity and sharing semantics
        missing = {i: x for i, x in enumerate(items) if type(x) is not str}
    return rebuild_string_array, (obj.shape, order, StringBatches(items, missing), missing)


_MISSING_TYPES = frozenset({str, float, type(None)})


def rebuild_string_array(
    shape: tuple[int, ...], order: str, parts: list, missing: dict[int, Any]
) -> Any:
    """Unpickle-time counterpart of :class:`StringBatches`."""
    import numpy as np

    out = np.empty(int(np.prod(shape)), dtype=object)
    position = 0
    for text_buffer, length_buffer in zip(parts[0::2], parts[1::2], strict=True):
        text = str(text_buffer, "utf-8", "surrogatepass")
        ends = np.cumsum(np.frombuffer(length_buffer, dtype=np.int64)).tolist()
        strings = []
        start = 0
        for end in ends:
            strings.append(text[start:end])
            start = end
        out[position : position + len(strings)] = strings
        position += len(strings)
    for index, value in missing.items():
        out[index] = value
    return out.reshape(shape, order=order)


# -- notebook functions and classes, by value --------------------------------


class EmptyCell:
    """Stands for a closure cell that had no value yet."""


def rebuild_function(code: bytes, globals_: dict, name: str, ncells: int) -> types.FunctionType:
    """Create a notebook function from marshalled code; its state is set afterwards."""
    cells = tuple(types.CellType() for _ in range(ncells))
    try:
        code_object = marshal.loads(code)
    except (ValueError, EOFError, TypeError) as exc:
        from .errors import CheckpointError

        raise CheckpointError(
            f"function {name!r} was stored by another Python version ({exc})"
        ) from None
    return types.FunctionType(code_object, globals_, name, None, cells or None)


def set_function_state(func: types.FunctionType, state: dict) -> None:
    """Fill closure cells and attributes once every referenced object exists (cycles)."""
    for cell, value in zip(func.__closure__ or (), state.pop("closure", ()), strict=True):
        if value is not EmptyCell:
            cell.cell_contents = value
    for attr in ("__defaults__", "__kwdefaults__", "__qualname__", "__module__", "__doc__"):
        if attr in state:
            setattr(func, attr, state.pop(attr))
    if "__annotations__" in state:
        func.__annotations__ = state.pop("__annotations__")
    func.__dict__.update(state.pop("__dict__", {}))


def reduce_function(func: types.FunctionType) -> tuple:
    closure = tuple(_cell_value(c) for c in func.__closure__ or ())
    state = {
        "closure": closure,
        "__defaults__": func.__defaults__,
        "__kwdefaults__": func.__kwdefaults__,
        "__qualname__": _intern(func.__qualname__),
        "__module__": _intern(func.__module__),
        "__doc__": _intern(func.__doc__),
        "__annotations__": func.__annotations__,
        "__dict__": func.__dict__,
    }
    # marshal version 2 has no back-references, so equal code gives equal bytes
    args = (marshal.dumps(func.__code__, 2), func.__globals__, _intern(func.__name__), len(closure))
    return rebuild_function, args, state, None, None, set_function_state


def _intern(value: Any) -> Any:
    """Pickle memoizes strings by identity; interning makes equal definitions equal bytes."""
    return sys.intern(value) if type(value) is str else value


def _cell_value(cell: types.CellType) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return EmptyCell


def rebuild_class(metaclass: type, name: str, bases: tuple, namespace: dict) -> type:
    """Create a notebook class; attributes (methods may refer to the class) come after."""
    return metaclass(name, bases, dict(namespace))


def set_class_attrs(cls: type, attrs: dict) -> None:
    """Second half of :func:`rebuild_class`."""
    for key, value in attrs.items():
        setattr(cls, key, value)


_LATE = (types.FunctionType, staticmethod, classmethod)


def reduce_class(cls: type) -> tuple:
    attrs = dict(vars(cls))
    slots = attrs.get("__slots__", ())
    slots = (slots,) if isinstance(slots, str) else tuple(slots)
    for key in ("__dict__", "__weakref__", *slots):
        attrs.pop(key, None)
    # Methods are set after the class exists (their closures may hold the class, as
    # super() does); everything else goes to the class statement's namespace, so
    # __set_name__ hooks run.  Sorted keys: equal classes give equal bytes.
    late = {_intern(k): attrs.pop(k) for k in sorted(attrs) if isinstance(attrs[k], _LATE)}
    initial = {_intern(k): _intern(attrs[k]) for k in sorted(attrs)}
    initial["__qualname__"] = _intern(cls.__qualname__)
    args = (type(cls), _intern(cls.__name__), cls.__bases__, initial)
    return rebuild_class, args, late, None, None, set_class_attrs


def rebuild_module(name: str) -> types.ModuleType:
    """A module inside a stored value (``{"lib": np}``) is imported again by name."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    import importlib

    from .errors import CheckpointError

    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise CheckpointError(f"module {name!r} could not be imported: {exc}") from None


def rebuild_mappingproxy(data: dict) -> types.MappingProxyType:
    """Read-only views (dataclass field metadata) are stored as their dict."""
    return types.MappingProxyType(data)


def is_enum(cls: type) -> bool:
    enum = sys.modules.get("enum")
    return enum is not None and isinstance(cls, enum.EnumMeta)


DESCRIPTORS = {
    types.ModuleType: lambda m: (rebuild_module, (m.__name__,)),
    staticmethod: lambda d: (staticmethod, (d.__func__,)),
    classmethod: lambda d: (classmethod, (d.__func__,)),
    property: lambda d: (property, (d.fget, d.fset, d.fdel, d.__doc__)),
    types.MappingProxyType: lambda d: (rebuild_mappingproxy, (dict(d),)),
    # cached_property holds a lock on 3.11; __set_name__ restores its name
    functools.cached_property: lambda d: (functools.cached_property, (d.func,)),
}
