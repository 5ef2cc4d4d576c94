"""CheckpointStore: snapshots of a namespace, a tree of them, undo/restore/fork and GC.

The files (layout, manifests, HEAD, forks) are :mod:`.session_files`; loading stored
groups is :mod:`.loading`; this module decides what a checkpoint, a restore, an undo
or a fork does with the live namespace.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from traitlets import Bool, Float, Int

from . import tree
from .collect import GcPolicy, collect, empty_result
from .conversation import Conversation, ConversationWriter, read_conversation
from .diff import StateDiff, diff_entries
from .errors import CheckpointError, CheckpointNotFoundError
from .grouping import names_to_examine, store_names
from .loading import groups_for, groups_to_restore, load_groups
from .names import checkpointable_names
from .records import CheckpointInfo, CheckpointKind, Manifest, RestoreReport
from .session_files import CHECKPOINT_ID, SessionFiles
from .summary import value_summary


def _serialized(method: Any) -> Any:
    """One store operation at a time per store (a subshell may run commands during a turn)."""

    @functools.wraps(method)
    def wrapper(self: CheckpointStore, *args: Any, **kwargs: Any) -> Any:
        with self._busy:
            return method(self, *args, **kwargs)

    return wrapper


class CheckpointStore(SessionFiles):
    """A content-addressed, crash-safe store of namespace checkpoints (see the package docs)."""

    full_pass = Bool(
        False,
        help="Examine every name at every checkpoint instead of only the names the code since "
        "the last checkpoint touched (slower, catches changes made behind IPython's back).",
    ).tag(config=True)
    max_store_bytes = Int(
        0,
        help="Size cap of the store in bytes; when a checkpoint pushes it over, gc prunes the "
        "oldest checkpoints (never the current one or a fork). 0 means no cap.",
    ).tag(config=True)
    keep_sessions_days = Float(
        14.0,
        help="gc deletes the checkpoint trees of other kernel sessions untouched for longer "
        "than this many days (their data goes too, unless another tree shares it). "
        "0 keeps them forever.",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._busy = threading.RLock()
        self._conversations = ConversationWriter()
        #: Seconds the last checkpoint spent writing its conversation and manifest (fsyncs).
        self.write_seconds = 0.0
        #: The last checkpoints this object took, with their timings (newest last).
        self.recent: deque[CheckpointInfo] = deque(maxlen=64)

    # -- taking checkpoints ----------------------------------------------------

    @_serialized
    def checkpoint(
        self,
        namespace: dict,
        *,
        label: str,
        touched: set[str] | None = None,
        hidden: Iterable[str] = frozenset(),
        meta: Mapping[str, Any] | None = None,
        kind: CheckpointKind = "turn",
        conversation: Conversation | None = None,
        skip_if_same: bool = False,
    ) -> CheckpointInfo:
        """Snapshot ``namespace`` (and ``conversation``) as a child of HEAD and move HEAD to it.

        ``touched`` are the names code touched since the last checkpoint (None: all).
        ``skip_if_same``: when nothing changed since HEAD, HEAD is the answer (no new node).
        """
        started = time.perf_counter()
        manifest, examined, written = self._snapshot(
            namespace,
            touched,
            hidden,
            kind=kind,
            label=label,
            meta=meta,
            skip_if_same=skip_if_same,
            conversation=conversation,
        )
        info = CheckpointInfo.from_manifest(
            manifest,
            examined=examined,
            bytes_written=written,
            seconds=time.perf_counter() - started,
        )
        info.write_seconds = self.write_seconds
        self.recent.append(info)
        return info

    def _snapshot(
        self,
        namespace: dict,
        touched: set[str] | None,
        hidden: Iterable[str],
        *,
        kind: CheckpointKind,
        label: str,
        meta: Mapping[str, Any] | None,
        skip_if_same: bool,
        conversation: Conversation | None = None,
    ) -> tuple[Manifest, list[str], int]:
        self._open(create=True)
        with self._lock(exclusive=False):
            base = self._manifest(self._head) if self._head else None
            names = checkpointable_names(namespace, hidden)
            base_entries = base.entries if base and not base.pruned else {}
            if self.full_pass:
                touched = None
            examine = names_to_examine(names, touched, base_entries)
            self.chunks.bytes_written = 0
            entries = store_names(namespace, names, examine, base_entries, self.chunks, touched)
            for name in examine & entries.keys():
                summary = value_summary(namespace[name])
                entries[name] = entries[name].model_copy(update={"summary": summary})
            writing = time.perf_counter()
            manifest = self._new_manifest(
                kind=kind,
                label=label,
                meta=meta,
                entries=entries,
                conversation=(
                    self._conversations.write(self.chunks, conversation)
                    if conversation is not None
                    else None
                ),
            )
            if skip_if_same and base is not None and base.same_state(manifest):
                return base, sorted(examine), 0
            manifest.added_bytes = self.chunks.bytes_written
            self._commit(manifest)
            self.write_seconds = time.perf_counter() - writing
            written = self.chunks.bytes_written
        if self.max_store_bytes > 0:
            self._gc_if_over_cap()
        return manifest, sorted(examine), written

    # -- restoring -------------------------------------------------------------

    @_serialized
    def restore(
        self,
        namespace: dict,
        checkpoint_id: str,
        *,
        touched: set[str] | None = None,
        hidden: Iterable[str] = frozenset(),
        conversation: Conversation | None = None,
    ) -> RestoreReport:
        """Make ``namespace`` what it was at ``checkpoint_id`` (saving the current state first).

        ``SESSION/ID`` restores a checkpoint of another kernel session (an earlier run
        of the kernel): its state becomes a new checkpoint of this session's tree.
        ``conversation`` is the live one, saved with the current state; the report carries
        the target's (``report.conversation``) for the caller to put back.
        """
        if "/" in str(checkpoint_id):
            return self._restore_foreign(
                namespace, str(checkpoint_id), touched, hidden, conversation
            )
        target_id = self.resolve_id(checkpoint_id)
        self._manifests.pop(target_id, None)  # read it from disk: it must still be there
        target = self._manifest(target_id)
        if target.pruned:
            raise CheckpointError(f"checkpoint [{target_id}] was pruned by gc; its data is gone")
        current, _, _ = self._snapshot(
            namespace,
            touched,
            hidden,
            kind="auto",
            label=f"before restore of [{target_id}]",
            meta=None,
            skip_if_same=True,
            conversation=conversation,
        )
        return self._apply(namespace, target, current, hidden)

    def _restore_foreign(
        self,
        namespace: dict,
        ref: str,
        touched: set[str] | None,
        hidden: Iterable[str],
        conversation: Conversation | None,
    ) -> RestoreReport:
        if not self._open(create=False):
            raise CheckpointNotFoundError("there are no checkpoints yet")
        target = self._foreign_manifest(ref)
        if target.session == self.session_name:
            return self.restore(
                namespace, target.id, touched=touched, hidden=hidden, conversation=conversation
            )
        where = f"{target.session}/{target.id}"
        if target.pruned:
            raise CheckpointError(f"checkpoint [{where}] was pruned by gc; its data is gone")
        current, _, _ = self._snapshot(
            namespace,
            touched,
            hidden,
            kind="auto",
            label=f"before restore of [{where}]",
            meta=None,
            skip_if_same=True,
            conversation=conversation,
        )
        # Another session's state is usually all of it (a resume after a restart): big buffers
        # are mapped copy-on-write from their chunks (hash-checked) instead of read into
        # freshly zeroed memory.
        report = self._apply(
            namespace, target, current, hidden, move_head=False, shown_as=where, map_buffers=True
        )
        report.session = target.session
        self._record_copy(target, where, target.entries, target.conversation)
        return report

    @_serialized
    def undo(
        self,
        namespace: dict,
        *,
        touched: set[str] | None = None,
        hidden: Iterable[str] = frozenset(),
        conversation: Conversation | None = None,
    ) -> RestoreReport:
        """Go back to the state before the last AI turn (itself undoable with /restore)."""
        if self.head is None:
            raise CheckpointNotFoundError("nothing to undo: there are no checkpoints yet")
        head = self._manifest(self.head)
        current, _, _ = self._snapshot(
            namespace,
            touched,
            hidden,
            kind="auto",
            label="before undo",
            meta=None,
            skip_if_same=True,
            conversation=conversation,
        )
        return self._apply(namespace, self._undo_target(head, current), current, hidden)

    def _undo_target(self, head: Manifest, current: Manifest) -> Manifest:
        """The nearest state before the last AI turn that differs from ``current``.

        The state a turn left (an ``after`` checkpoint) is never the target: undo takes the
        turn back, not only what was done since it.
        """
        node: Manifest | None = head
        while node is not None:
            usable = node.kind != "after" and not node.pruned
            if usable and node.id != current.id and not node.same_state(current):
                return node
            node = self._manifest(node.parent) if node.parent is not None else None
        raise CheckpointNotFoundError("nothing to undo: the namespace is at the oldest checkpoint")

    def _apply(
        self,
        namespace: dict,
        target: Manifest,
        current: Manifest,
        hidden: Iterable[str],
        *,
        move_head: bool = True,
        shown_as: str | None = None,
        map_buffers: bool = False,
    ) -> RestoreReport:
        entries = target.entries
        to_load = groups_to_restore(entries, current.entries, namespace)
        fresh, failed = load_groups(
            entries,
            to_load,
            namespace,
            shown_as or target.id,
            chunks=self.chunks,
            map_buffers=map_buffers,
        )
        restored_conversation = (
            read_conversation(
                self.chunks, target.conversation, f"checkpoint [{shown_as or target.id}]"
            )
            if target.conversation is not None
            else None
        )
        # Nothing above touched the namespace: a corrupt checkpoint changes nothing.
        removed = [n for n in checkpointable_names(namespace, hidden) if n not in entries]
        for name in removed:
            del namespace[name]
        namespace.update(fresh)
        if move_head:
            self._set_head(target.id)
        not_rolled_back = {n: e.type_name for n, e in entries.items() if e.kind == "unpicklable"}
        for h, why in failed.items():
            for m in entries[h].members or [h]:
                not_rolled_back[m] = why
        report = RestoreReport(
            target=target.id,
            saved_as=current.id,
            restored=sorted(fresh),
            removed=sorted(removed),
            unchanged=sorted(n for n in entries if n not in fresh and n not in not_rolled_back),
            not_rolled_back=not_rolled_back,
            conversation=restored_conversation,
        )
        report.message = tree.restore_message(target, report, shown_as or target.id)
        return report

    # -- clones (sub-agents) -----------------------------------------------------

    @_serialized
    def checkpoint_for_clone(
        self,
        namespace: dict,
        *,
        label: str,
        touched: set[str] | None = None,
        hidden: Iterable[str] = frozenset(),
    ) -> str:
        """Make sure a checkpoint holds ``namespace`` now and return its ``SESSION/ID``.

        Incremental like every checkpoint; when nothing changed since HEAD, HEAD is the
        answer and nothing is written.
        """
        manifest, _, _ = self._snapshot(
            namespace, touched, hidden, kind="auto", label=label, meta=None, skip_if_same=True
        )
        return f"{manifest.session}/{manifest.id}"

    @_serialized
    def load(
        self,
        ref: str,
        names: Iterable[str] | None = None,
        *,
        namespace: dict,
        map_buffers: bool = True,
        verify: bool = False,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The values of ``names`` (all when None) at checkpoint ``ref``, without touching
        ``namespace`` (it is only the globals of notebook functions).

        Names stored together with a wanted one, and names its data points at, are loaded
        too and returned with it. Returns the values and, per name that could not be
        loaded (unpicklable, missing, failed), why. Big array buffers are mapped
        copy-on-write (see :mod:`.mapping`); ``verify`` hashes them as well.
        """
        target = self.manifest(ref)
        if target.pruned:
            raise CheckpointError(f"checkpoint [{ref}] was pruned by gc; its data is gone")
        entries = target.entries
        wanted = list(entries) if names is None else list(dict.fromkeys(names))
        to_load, problems = groups_for(entries, wanted)
        fresh, failed = load_groups(
            entries,
            to_load,
            namespace,
            ref,
            chunks=self.chunks,
            map_buffers=map_buffers,
            verify=verify,
        )
        for holder, why in failed.items():
            for member in entries[holder].members or [holder]:
                problems[member] = why
        return fresh, problems

    @_serialized
    def adopt(
        self,
        namespace: dict,
        ref: str,
        names: Iterable[str] | None = None,
        *,
        map_buffers: bool = True,
        verify: bool = False,
    ) -> RestoreReport:
        """Bring ``names`` (all when None) of checkpoint ``ref`` of another session into
        ``namespace`` and record that state as a checkpoint of this session.

        This is how a sub-agent starts from its parent's namespace: the chunks are shared,
        and the recorded checkpoint makes the child's own next checkpoint incremental.
        """
        target = self.manifest(ref)
        fresh, problems = self.load(
            ref, names, namespace=namespace, map_buffers=map_buffers, verify=verify
        )
        namespace.update(fresh)
        kept = {n: e for n, e in target.entries.items() if n in fresh}
        for name in problems:
            entry = target.entries.get(name)
            if entry is not None and entry.kind == "unpicklable":
                kept[name] = entry
        copy = self._record_copy(target, ref, kept)
        report = RestoreReport(
            target=ref,
            saved_as=copy.id,
            restored=sorted(fresh),
            not_rolled_back=problems,
        )
        return report

    # -- forks, tree, status ----------------------------------------------------

    @_serialized
    def fork(
        self,
        label: str,
        namespace: dict | None = None,
        *,
        touched: set[str] | None = None,
        hidden: Iterable[str] = frozenset(),
        conversation: Conversation | None = None,
    ) -> CheckpointInfo:
        """Name a branch point: a checkpoint of ``namespace`` (or HEAD) tagged ``label``."""
        label = " ".join(str(label).split())
        if not label:
            raise CheckpointError("a fork needs a label, e.g. /fork try-log-scale")
        if CHECKPOINT_ID.fullmatch(label):
            raise CheckpointError("a fork label cannot look like a checkpoint id")
        forks = self.forks()
        if label in forks:
            raise CheckpointError(f"a fork called {label!r} already exists at [{forks[label]}]")
        if namespace is not None:
            manifest, examined, written = self._snapshot(
                namespace,
                touched,
                hidden,
                kind="fork",
                label=label,
                meta=None,
                skip_if_same=False,
                conversation=conversation,
            )
        elif self.head is not None:
            manifest, examined, written = self._manifest(self.head), [], 0
        else:
            raise CheckpointNotFoundError("nothing to fork: there are no checkpoints yet")
        forks[label] = manifest.id
        self._write_forks(forks)
        return CheckpointInfo.from_manifest(manifest, examined=examined, bytes_written=written)

    def diff(self, ref: str | None = None, against: str | None = None) -> StateDiff:
        """What checkpoint ``ref`` (default: the current one) changed since ``against``.

        ``against`` defaults to its parent.  Only manifests are read: no data is loaded.
        """
        if ref is None:
            if self.head is None:
                raise CheckpointNotFoundError("there are no checkpoints yet")
            ref = self.head
        after = self.manifest(ref)
        if against is None and after.parent is None:
            return diff_entries({}, after.entries, before_id=None, after_id=after.id)
        before = self.manifest(against if against is not None else after.parent or "")
        if before.pruned or after.pruned:
            raise CheckpointError("a pruned checkpoint has no data to compare")
        return diff_entries(before.entries, after.entries, before_id=before.id, after_id=after.id)

    def conversation(self, ref: str) -> dict[str, list[Any]] | None:
        """The conversation checkpoint ``ref`` recorded (None when it recorded none)."""
        manifest = self.manifest(ref)
        if manifest.conversation is None:
            return None
        return read_conversation(self.chunks, manifest.conversation, f"checkpoint [{ref}]")

    def render_tree(self, recent: int | None = None) -> str:
        """The session's checkpoint tree as text (``●`` marks the current checkpoint).

        ``recent`` folds long runs of older checkpoints (see :func:`.tree.render`).
        """
        return tree.render(self.checkpoints(), self.head, self.forks(), recent)

    def status(self) -> dict[str, Any]:
        """Facts for ``/checkpoints status``."""
        if not self._open(create=False):
            return {"directory": str(self.root), "exists": False}
        sizes = [path.stat().st_size for _, path in self.chunks.keys()]
        sessions = [p.name for p in (self.root / "sessions").iterdir() if p.is_dir()]
        return {
            "directory": str(self.root),
            "exists": True,
            "session": self.session_name,
            "checkpoints": len(self.checkpoints()),
            "head": self.head,
            "chunks": len(sizes),
            "chunk_bytes": sum(sizes),
            "sessions": len(sessions),
            "max_store_bytes": self.max_store_bytes,
            "last": self.recent[-1].model_dump() if self.recent else None,
        }

    # -- garbage collection ----------------------------------------------------

    @_serialized
    def gc(self, *, max_bytes: int | None = None) -> dict[str, int]:
        """Delete chunks and temp files no checkpoint needs; prune the oldest over the cap."""
        if not self._open(create=False):
            return empty_result()
        policy = GcPolicy(
            cap=self.max_store_bytes if max_bytes is None else max_bytes,
            keep_sessions_days=self.keep_sessions_days,
            session=self.session_name,
            protected={self._head, *self.forks().values()} - {None},
        )
        with self._lock(exclusive=True):
            result, stubs = collect(self.root, self.chunks, policy, self.log)
        for stub in stubs:
            if stub.session == self.session_name:
                self._manifests[stub.id] = stub
        return result

    def _gc_if_over_cap(self) -> None:
        total = sum(path.stat().st_size for _, path in self.chunks.keys())
        if total > self.max_store_bytes:
            self.gc()
