"""Serialising one group of namespace values, and loading it back.

A group (usually one name) is pickled with the C pickler, protocol 5, array data
out of band (zero copy).  Two hooks make it namespace-aware:

* ``persistent_id``: an object bound to *another* namespace name is written as a
  reference to that name (``("name", "a")``), so ``d['k'] is a`` survives a
  restore and ``d``'s stream does not contain ``a``'s data.  The namespace dict
  itself (the globals of notebook functions) is written as ``("ns",)``.
* ``reducer_override``: plain contiguous numpy arrays (datetime ones too, which
  numpy itself pickles in band) become out-of-band buffers, and functions and
  classes defined in the notebook (``__module__`` equal to the namespace's
  ``__name__``) are stored *by value* — marshalled code, closure, defaults, class
  attributes — so a restore brings back the definition as it was, whatever the
  current definition is.  Their globals are the ``("ns",)`` reference.

What the C pickler refuses is tried again with dill (same hooks, so arrays stay
out of band); what dill refuses too is recorded as unpicklable.

Heavy modules (dill, numpy) are imported only when needed.
"""

from __future__ import annotations

import functools
import io
import marshal
import pickle
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .errors import CheckpointError, CorruptCheckpointError
from .objects import BlobSink, ChunkStore
from .records import BlobRef, Entry

#: Arrays smaller than this stay in band: a buffer per tiny array costs more than it saves.
MIN_OUT_OF_BAND = 64 * 1024

NS_MARK = "\x00ns"

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


def rebuild_array(buffer: Any, dtype: Any, shape: tuple[int, ...], order: str, writeable: bool):
    """Unpickle-time counterpart of :meth:`_NamespaceMixin._reduce_array`."""
    import numpy as np

    array = np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)
    if not writeable:
        array.flags.writeable = False
    return array


_TRACKED = frozenset({list, dict, set, bytearray})

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


def _reduce_string_array(obj: Any) -> Any:
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


class _NamespaceMixin:
    """The hooks shared by the C pickler and the dill pickler."""

    def _setup(self, refs: Mapping[int, str], member_ids: set[int], module: str) -> None:
        self._refs = refs
        self._member_ids = member_ids
        self._module = module
        self.used_refs: set[str] = set()
        self._bound: dict[type, bool] = {}
        #: Mutable containers met while pickling, by id: two groups that met the same
        #: one share it, and are pickled together so the sharing survives a restore.
        self.mutables: dict[int, Any] = {}
        self.class_shared: set[int] = set()
        numpy = sys.modules.get("numpy")
        self._ndarray = numpy.ndarray if numpy is not None else None
        self._tracked = _TRACKED if numpy is None else _TRACKED | {numpy.ndarray}

    def persistent_id(self, obj: Any) -> Any:
        name = self._refs.get(id(obj))
        if name is None or id(obj) in self._member_ids:
            if type(obj) in self._tracked and len(obj):
                # Kept alive until grouping is done, so an id is never recycled.  Empty
                # containers are skipped: classes share those (pandas' ``_metadata``).
                self.mutables[id(obj)] = obj
            return None
        if name == NS_MARK:
            return ("ns",)
        self.used_refs.add(name)
        return ("name", name)

    def _note_class_containers(self, kind: type) -> None:
        """Containers held by a class (pandas' ``Series._metadata``) are not sharing."""
        for klass in getattr(kind, "__mro__", ()):
            for value in vars(klass).values():
                if type(value) in self._tracked:
                    self.class_shared.add(id(value))

    def _reduce_array(self, obj: Any) -> Any:
        if obj.dtype.hasobject or obj.nbytes < MIN_OUT_OF_BAND:
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

    def _reduce(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is self._ndarray:
            if obj.dtype.hasobject:
                return _reduce_string_array(obj)
            return self._reduce_array(obj)
        if kind is StringBatches:
            return list, (), None, obj.buffers()
        if kind is types.FunctionType:
            if obj.__module__ == self._module:
                return _reduce_function(obj)
            return NotImplemented
        if kind in _DESCRIPTORS:
            return _DESCRIPTORS[kind](obj)
        if isinstance(obj, type):
            if obj.__module__ == self._module and not _is_enum(obj):
                return _reduce_class(obj)
            return NotImplemented
        bound = self._bound.get(kind)
        if bound is None:
            bound = self._bound[kind] = is_process_bound(kind)
            self._note_class_containers(kind)
        if bound:
            raise ProcessBoundError(
                f"{kind.__module__}.{kind.__qualname__} belongs to this process"
            )
        return NotImplemented


class _FastPickler(_NamespaceMixin, pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        return self._reduce(obj)


def _dill_pickler_class() -> type:
    import dill

    class _DillPickler(_NamespaceMixin, dill.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            return self._reduce(obj)

    return _DillPickler


# -- notebook functions and classes, by value --------------------------------


class EmptyCell:
    """Stands for a closure cell that had no value yet."""


def rebuild_function(code: bytes, globals_: dict, name: str, ncells: int) -> types.FunctionType:
    """Create a notebook function from marshalled code; its state is set afterwards."""
    cells = tuple(types.CellType() for _ in range(ncells))
    return types.FunctionType(marshal.loads(code), globals_, name, None, cells or None)


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


def _reduce_function(func: types.FunctionType) -> tuple:
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


def _reduce_class(cls: type) -> tuple:
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


def rebuild_mappingproxy(data: dict) -> types.MappingProxyType:
    """Read-only views (dataclass field metadata) are stored as their dict."""
    return types.MappingProxyType(data)


def _is_enum(cls: type) -> bool:
    enum = sys.modules.get("enum")
    return enum is not None and isinstance(cls, enum.EnumMeta)


_DESCRIPTORS = {
    staticmethod: lambda d: (staticmethod, (d.__func__,)),
    classmethod: lambda d: (classmethod, (d.__func__,)),
    property: lambda d: (property, (d.fget, d.fset, d.fdel, d.__doc__)),
    types.MappingProxyType: lambda d: (rebuild_mappingproxy, (dict(d),)),
    # cached_property holds a lock on 3.11; __set_name__ restores its name
    functools.cached_property: lambda d: (functools.cached_property, (d.func,)),
}


def _unpickler_class(codec: str) -> type:
    base = pickle.Unpickler
    if codec == "dill":
        import dill

        base = dill.Unpickler

    class _NamespaceUnpickler(base):  # type: ignore[misc, valid-type]
        def __init__(self, file: Any, *, buffers: list[Any], resolve: Callable, ns: dict) -> None:
            super().__init__(file, buffers=buffers)
            self._resolve = resolve
            self._ns = ns

        def persistent_load(self, pid: Any) -> Any:
            if pid == ("ns",):
                return self._ns
            if isinstance(pid, tuple) and len(pid) == 2 and pid[0] == "name":
                return self._resolve(pid[1])
            raise pickle.UnpicklingError(f"unknown reference {pid!r}")

    return _NamespaceUnpickler


def _digest(entry: Entry) -> str:
    import xxhash

    h = xxhash.xxh3_128()
    h.update(f"{entry.codec}|{','.join(entry.members)}|{','.join(entry.refs)}|".encode())
    for blob in [entry.stream, *entry.buffers]:
        assert blob is not None
        h.update(f"{blob.size}:".encode())
        h.update((blob.inline or ",".join(blob.keys())).encode())
        h.update(b";")
    return h.hexdigest()


def dump_group(
    members: list[str],
    values: list[Any],
    *,
    refs: Mapping[int, str],
    module: str,
    chunks: ChunkStore,
) -> tuple[Entry, dict[int, Any]]:
    """Store ``values`` (the values of ``members``) as one entry, or record why it cannot be.

    Also returns the mutable containers the pickler met (id → object), for grouping.
    """
    codecs = ["pickle", "dill"]
    # The namespace itself (``g = globals()``) stays a reference to the namespace.
    member_ids = {id(v) for v in values if refs.get(id(v)) != NS_MARK}
    error: BaseException | None = None
    for codec in codecs:
        sink = BlobSink(chunks)
        buffer_refs: list[BlobRef] = []

        def store_buffer(buffer: pickle.PickleBuffer, refs_out: list = buffer_refs) -> bool:
            # Stored as soon as the pickler hands it over: a streamed column never
            # sits in memory whole.  False means "out of band".
            with buffer.raw() as raw:
                refs_out.append(chunks.put_buffer(raw))
            return False

        cls = _FastPickler if codec == "pickle" else _dill_pickler_class()
        pickler = cls(sink, protocol=5, buffer_callback=store_buffer)
        pickler._setup(refs, member_ids, module)
        try:
            pickler.dump(tuple(values))
        except Exception as exc:  # anything a __reduce__ raises means "cannot store this"
            error = exc
            if isinstance(exc, ProcessBoundError) or not _worth_trying_dill(exc):
                break
            continue
        stream = sink.close()
        entry = Entry(
            kind="value",
            codec=codec,
            stream=stream,
            buffers=buffer_refs,
            members=list(members),
            refs=sorted(pickler.used_refs),
        )
        entry.digest = _digest(entry)
        for shared in pickler.class_shared:
            pickler.mutables.pop(shared, None)
        return entry, pickler.mutables
    return Entry(
        kind="unpicklable",
        members=list(members),
        type_name=type(values[0]).__name__ if len(values) == 1 else "group",
        error=f"{type(error).__name__}: {error}" if error else "cannot be pickled",
    ), {}


def _worth_trying_dill(exc: BaseException) -> bool:
    """dill cannot store generators, frames or OS handles either; skip the slow retry."""
    text = str(exc)
    hopeless = ("generator", "_thread.lock", "_thread.RLock", "socket", "frame", "TextIOWrapper")
    hopeless += ("BufferedReader", "BufferedWriter", "BufferedRandom", "FileIO", "coroutine")
    return not any(word in text for word in hopeless)


def load_group(
    entry: Entry,
    *,
    chunks: ChunkStore,
    resolve: Callable[[str], Any],
    namespace: dict,
) -> tuple[Any, ...]:
    """The member values of a stored ``value`` entry, freshly built."""
    label = ", ".join(f"'{m}'" for m in entry.members)
    assert entry.stream is not None and entry.codec is not None
    stream = chunks.read(entry.stream, label)
    buffers = [chunks.read(blob, label) for blob in entry.buffers]
    cls = _unpickler_class(entry.codec)
    try:
        values = cls(io.BytesIO(stream), buffers=buffers, resolve=resolve, ns=namespace).load()
    except CheckpointError:
        raise
    except Exception as exc:
        raise CorruptCheckpointError(
            f"could not load {label}: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(values, tuple) or len(values) != len(entry.members):
        raise CorruptCheckpointError(f"stored data for {label} has the wrong shape")
    return values


def is_module(value: Any) -> bool:
    """Modules are stored by name and imported again on restore."""
    return isinstance(value, types.ModuleType)
