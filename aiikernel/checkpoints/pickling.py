"""Serialising one group of namespace values, and loading it back.

A group (usually one name) is pickled with the C pickler, protocol 5, array data
out of band (zero copy).  Two hooks make it namespace-aware:

* ``persistent_id``: an object bound to *another* namespace name is written as a
  reference to that name (``("name", "a")``), so ``d['k'] is a`` survives a
  restore and ``d``'s stream does not contain ``a``'s data.  The namespace dict
  itself (the globals of notebook functions) is written as ``("ns",)``.
* ``reducer_override``: arrays, string columns, notebook functions and classes
  and process-bound objects get the reductions of :mod:`.reducers`.
* Mutable containers met on the way are remembered (and kept alive, so ids are
  not recycled): two groups that met the same one are pickled together, so
  sharing through an unnamed object survives too.

What the C pickler refuses is tried again with dill (same hooks, so arrays stay
out of band); what dill refuses too is recorded as unpicklable.

Heavy modules (dill, numpy) are imported only when needed.
"""

from __future__ import annotations

import io
import pickle
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any

from .errors import CheckpointError, CorruptCheckpointError
from .objects import BlobSink, ChunkStore
from .records import BlobRef, Entry
from .reducers import (
    DESCRIPTORS,
    ProcessBoundError,
    StringBatches,
    is_enum,
    is_process_bound,
    reduce_array,
    reduce_class,
    reduce_function,
)

NS_MARK = "\x00ns"

_TRACKED = frozenset({list, dict, set, bytearray})


class _NamespaceMixin:
    """The hooks shared by the C pickler and the dill pickler."""

    def _setup(
        self, refs: Mapping[int, str], member_ids: set[int], module: str, track: bool
    ) -> None:
        self._refs = refs
        self._member_ids = member_ids
        self._module = module
        self._track = track
        self.used_refs: set[str] = set()
        self._bound: dict[type, bool] = {}
        #: Mutable containers met while pickling (with ``track``): two groups that met
        #: the same one share it, and are pickled together so the sharing survives a
        #: restore.  Held here, so their ids cannot be recycled meanwhile.
        self.mutables: list[Any] = []
        self.class_shared: set[int] = set()
        numpy = sys.modules.get("numpy")
        self._ndarray = numpy.ndarray if numpy is not None else None
        self._tracked = _TRACKED if numpy is None else _TRACKED | {numpy.ndarray}

    def persistent_id(self, obj: Any) -> Any:
        name = self._refs.get(id(obj))
        if name is None or id(obj) in self._member_ids:
            if self._track and type(obj) in self._tracked:
                self.mutables.append(obj)
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

    def _reduce(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is self._ndarray:
            return reduce_array(obj)
        if kind is StringBatches:
            return list, (), None, obj.buffers()
        if kind is types.FunctionType:
            if obj.__module__ == self._module:
                return reduce_function(obj)
            return NotImplemented
        if kind in DESCRIPTORS:
            return DESCRIPTORS[kind](obj)
        if isinstance(obj, type):
            if obj.__module__ == self._module and not is_enum(obj):
                return reduce_class(obj)
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
    track: bool = True,
) -> tuple[Entry, list[Any]]:
    """Store ``values`` (the values of ``members``) as one entry, or record why it cannot be.

    With ``track``, also returns the mutable containers the pickler met, for grouping.
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
        pickler._setup(refs, member_ids, module, track)
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
        mutables = pickler.mutables
        if pickler.class_shared:
            mutables = [m for m in mutables if id(m) not in pickler.class_shared]
        return entry, mutables
    return Entry(
        kind="unpicklable",
        members=list(members),
        type_name=type(values[0]).__name__ if len(values) == 1 else "group",
        error=f"{type(error).__name__}: {error}" if error else "cannot be pickled",
    ), []


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
    map_buffers: bool = False,
    verify: bool = True,
) -> tuple[Any, ...]:
    """The member values of a stored ``value`` entry, freshly built.

    ``map_buffers``: big out-of-band buffers (array data) are mapped copy-on-write from
    their chunk files (:mod:`.mapping`) instead of read; ``verify`` hashes them too.
    """
    label = ", ".join(f"'{m}'" for m in entry.members)
    assert entry.stream is not None and entry.codec is not None
    stream = chunks.read(entry.stream, label)
    buffers: list[Any] = []
    for blob in entry.buffers:
        if map_buffers:
            from .mapping import map_blob, mappable

            if mappable(blob):
                buffers.append(map_blob(chunks, blob, label, verify=verify))
                continue
        buffers.append(chunks.read(blob, label))
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
