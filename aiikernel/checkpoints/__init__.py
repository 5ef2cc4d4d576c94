"""Checkpoints of the user namespace: undo, restore and fork for AI turns.

Public API (stable; everything else in this package is internal)::

    from aiikernel.checkpoints import CheckpointStore, TouchTracker, CheckpointError

    store = CheckpointStore(directory="/path/.aiipython_checkpoints")  # opens lazily
    info = store.checkpoint(ns, label="prompt", touched={"df"}, hidden=set(shell.user_ns_hidden))
    info.id, info.label, info.time, info.parent, info.unpicklable
    report = store.restore(ns, "0003", touched=..., hidden=...)  # .restored .removed
    report = store.restore(ns, "SESSION/0003")   # from an earlier kernel (store.sessions())
    report = store.undo(ns, touched=..., hidden=...)              # .not_rolled_back .message
    info = store.fork("try log scale", ns)   # named branch point (HEAD when ns is None)
    text = store.render_tree()
    store.gc()                               # or max_store_bytes for an automatic cap

    tracker = TouchTracker(shell); tracker.register()   # pre/post_run_cell hooks
    touched = tracker.take()    # names since the last take(); None means "everything"

* ``touched=None`` means "examine every name"; pass the tracker's ``take()`` so a
  checkpoint of a turn that left big data alone costs milliseconds.
* ``hidden`` names (IPython's ``user_ns_hidden``) and IPython internals (``In``,
  ``Out``, ``_``, ``_i3``, ``_3``, dunders, ``exit``/``quit``/``get_ipython``) are
  never stored and never removed by a restore.
* Modules are stored by name and imported again on restore.
* Every error the store raises is a :class:`CheckpointError` with a message meant
  for people (subclasses: ``UnsafeStoreError``, ``CheckpointNotFoundError``,
  ``CorruptCheckpointError``).

Heavy modules (dill, xxhash, numpy) are imported on first use, not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    CheckpointError,
    CheckpointNotFoundError,
    CorruptCheckpointError,
    UnsafeStoreError,
)

if TYPE_CHECKING:
    from .records import CheckpointInfo, RestoreReport
    from .store import CheckpointStore
    from .tracker import TouchTracker

__all__ = [
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointNotFoundError",
    "CheckpointStore",
    "CorruptCheckpointError",
    "RestoreReport",
    "TouchTracker",
    "UnsafeStoreError",
]

_LAZY = {
    "CheckpointStore": ".store",
    "TouchTracker": ".tracker",
    "CheckpointInfo": ".records",
    "RestoreReport": ".records",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
