"""CheckpointStore: snapshots of a namespace, a tree of them, undo/restore/fork and GC.

Layout of the store directory (created 0700, refused when not private)::

    .gitignore                 "*": never committed by accident
    lock                       flock: checkpoints share it, gc takes it exclusively
    objects/ab/<hash>          content-addressed chunks (xxh3-128)
    tmp/                       temp files before their rename
    sessions/<session>/
        checkpoints/0003.json  one manifest per checkpoint (immutable; gc may prune)
        HEAD                   log of ids; the last complete line is the checkpoint the
                               live namespace came from
        forks.json             fork label → id

Each kernel process is one *session* with its own tree and HEAD; chunks are shared
between sessions, so identical data is stored once.  Write order is chunks →
manifest (temp → fsync → rename) → HEAD (one appended line), so a crash leaves
the store at the last complete checkpoint.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib
import json
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from traitlets import Bool, Float, Int, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from . import tree
from .collect import GcPolicy, collect, empty_result
from .conversation import Conversation, ConversationWriter, read_conversation
from .diff import StateDiff, diff_entries
from .errors import (
    CheckpointError,
    CheckpointNotFoundError,
    CorruptCheckpointError,
    UnsafeStoreError,
)
from .grouping import names_to_examine, store_names
from .names import checkpointable_names
from .objects import (
    ChunkStore,
    atomic_write,
    check_private_dir,
    make_private_dir,
    read_private,
)
from .pickling import load_group
from .records import CheckpointInfo, CheckpointKind, Manifest, RestoreReport
from .summary import value_summary

MiB = 1024 * 1024
_ID = re.compile(r"^\[?(\d{1,9})\]?$")
_SAFE_SESSION = re.compile(r"[^A-Za-z0-9._-]+")


def _serialized(method: Any) -> Any:
    """One store operation at a time per store (a subshell may run commands during a turn)."""

    @functools.wraps(method)
    def wrapper(self: CheckpointStore, *args: Any, **kwargs: Any) -> Any:
        with self._busy:
            return method(self, *args, **kwargs)

    return wrapper


class CheckpointStore(LoggingConfigurable):
    """A content-addressed, crash-safe store of namespace checkpoints (see the package docs)."""

    directory = Unicode(
        ".aiipython_checkpoints",
        help="Directory of the checkpoint store (created 0700; refused if another user owns it "
        "or it is group/world-writable, because loading a checkpoint runs pickled code).",
    ).tag(config=True)
    full_pass = Bool(
        False,
        help="Examine every name at every checkpoint instead of only the names the code since "
        "the last checkpoint touched (slower, catches changes made behind IPython's back).",
    ).tag(config=True)
    chunk_size = Int(
        8 * MiB, help="Size of the chunks big buffers are cut into (4–16 MiB is the sweet spot)."
    ).tag(config=True)
    inline_limit = Int(
        16 * 1024,
        help="Pickle streams up to this many bytes are kept inside the manifest (no chunk file).",
    ).tag(config=True)
    max_store_bytes = Int(
        0,
        help="Size cap of the store in bytes; when a checkpoint pushes it over, gc prunes the "
        "oldest checkpoints (never the current one or a fork). 0 means no cap.",
    ).tag(config=True)
    session_name = Unicode(
        help="Name of this process's checkpoint tree (default: the notebook's name when "
        "jupyter_server gives it, start time and pid)."
    ).tag(config=True)
    keep_sessions_days = Float(
        14.0,
        help="gc deletes the checkpoint trees of other kernel sessions untouched for longer "
        "than this many days (their data goes too, unless another tree shares it). "
        "0 keeps them forever.",
    ).tag(config=True)

    @default("session_name")
    def _default_session_name(self) -> str:
        # jupyter_server tells kernels which notebook they serve; it makes the
        # sessions of /checkpoints sessions recognisable after a restart.
        notebook = Path(os.environ.get("JPY_SESSION_NAME", "")).stem
        stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
        return _SAFE_SESSION.sub("-", f"{notebook}-{stamp}").strip(".-") if notebook else stamp

    @validate("directory")
    def _validate_directory(self, proposal: Any) -> str:
        value = str(proposal["value"]).strip()
        if not value:
            raise TraitError("the checkpoint directory must not be empty")
        return os.path.abspath(os.path.expanduser(value))

    @validate("chunk_size")
    def _validate_chunk_size(self, proposal: Any) -> int:
        value = int(proposal["value"])
        if not 4096 <= value <= 256 * MiB:
            raise TraitError("chunk_size must be between 4 KiB and 256 MiB")
        return value

    @validate("session_name")
    def _validate_session(self, proposal: Any) -> str:
        value = _SAFE_SESSION.sub("-", str(proposal["value"])).strip(".-")
        if not value:
            raise TraitError("session_name must contain letters or digits")
        return value

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._opened = False
        self._manifests: dict[str, Manifest] = {}
        self._head: str | None = None
        self._next_id = 0
        self._chunks: ChunkStore | None = None
        self._busy = threading.RLock()
        self._conversations = ConversationWriter()
        #: Seconds the last checkpoint spent writing its conversation and manifest (fsyncs).
        self.write_seconds = 0.0
        #: The last checkpoints this object took, with their timings (newest last).
        self.recent: deque[CheckpointInfo] = deque(maxlen=64)

    # -- paths -----------------------------------------------------------------

    @property
    def root(self) -> Path:
        return Path(self.directory)

    @property
    def _session_dir(self) -> Path:
        return self.root / "sessions" / self.session_name

    @property
    def _manifest_dir(self) -> Path:
        return self._session_dir / "checkpoints"

    # -- opening -----------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the store directory exists (nothing is created by asking)."""
        return self.root.is_dir()

    def _check_private(self, path: Path) -> None:
        check_private_dir(path, missing_ok=True)

    def _check_session_path(self, session_dir: Path) -> None:
        """Every directory between the store root and a session's manifests is private."""
        for path in (
            self.root,
            self.root / "sessions",
            session_dir,
            session_dir / "checkpoints",
        ):
            check_private_dir(path)

    def _open(self, create: bool) -> bool:
        """Open (and with ``create`` make) the store; False when it does not exist."""
        if self._opened:
            return True
        root = self.root
        if not os.path.lexists(root):
            if not create:
                return False
            root.parent.mkdir(parents=True, exist_ok=True)
        for path in (root, root / "objects", root / "sessions", root / "tmp", self._session_dir):
            self._check_private(path)
        # Every level explicitly 0700, whatever the umask (mkdir(parents=True) would
        # give the intermediate ones the umask's mode).
        for path in (
            root,
            root / "objects",
            root / "tmp",
            root / "sessions",
            self._session_dir,
            self._manifest_dir,
        ):
            make_private_dir(path)
        gitignore = root / ".gitignore"
        if not gitignore.exists():
            atomic_write(gitignore, b"*\n", root / "tmp")
        (root / "lock").touch(mode=0o600, exist_ok=True)
        self._chunks = ChunkStore(
            root / "objects", root / "tmp", self.chunk_size, self.inline_limit
        )
        self._load_session()
        self._opened = True
        return True

    def _load_session(self) -> None:
        ids = []
        for path in self._manifest_dir.glob("*.json"):
            if path.stem.isdigit():
                ids.append(int(path.stem))
        self._next_id = max(ids) + 1 if ids else 0
        head = _read_head(self._session_dir / "HEAD")
        if head is not None:
            try:
                self._manifest(head)
            except CheckpointError as exc:
                self.log.warning("checkpoint HEAD %s unreadable (%s); using the newest", head, exc)
                head = None
        if head is None:
            for cid in sorted((f"{i:04d}" for i in ids), reverse=True):
                try:
                    self._manifest(cid)
                except CheckpointError:
                    continue
                head = cid
                break
        self._head = head

    @contextlib.contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    @property
    def chunks(self) -> ChunkStore:
        assert self._chunks is not None
        return self._chunks

    # -- manifests -------------------------------------------------------------

    def _manifest_path(self, cid: str) -> Path:
        return self._manifest_dir / f"{cid}.json"

    def _manifest(self, cid: str) -> Manifest:
        cached = self._manifests.get(cid)
        if cached is not None:
            return cached
        self._check_session_path(self._session_dir)
        manifest = _read_manifest(self._manifest_path(cid), cid)
        self._manifests[cid] = manifest
        return manifest

    def _foreign_manifest(self, ref: str) -> Manifest:
        """``SESSION/ID``: a checkpoint of another kernel session of this store."""
        session, _, cid = ref.strip().partition("/")
        match = _ID.fullmatch(cid.strip())
        if not match or not session or _SAFE_SESSION.search(session) or session in (".", ".."):
            raise CheckpointNotFoundError(
                f"{ref!r} is not SESSION/ID (/checkpoints sessions lists the sessions)"
            )
        directory = self.root / "sessions" / session
        if not directory.is_dir():
            raise CheckpointNotFoundError(
                f"no kernel session called {session!r} (/checkpoints sessions lists them)"
            )
        self._check_session_path(directory)
        cid = f"{int(match.group(1)):04d}"
        return _read_manifest(directory / "checkpoints" / f"{cid}.json", f"{session}/{cid}")

    def _write_manifest(self, manifest: Manifest) -> None:
        self.chunks.sync()  # every chunk it names is durable before it exists
        data = manifest.model_dump_json().encode()
        atomic_write(self._manifest_path(manifest.id), data, self.root / "tmp")
        self._manifests[manifest.id] = manifest

    def _set_head(self, cid: str) -> None:
        """Move HEAD: one small O_APPEND write, all or nothing even under SIGKILL.

        A line counts only with its newline, so a write torn by a power loss is
        ignored and HEAD stays one step back.  The log is compacted (atomic rename)
        once it grows past a few KB.
        """
        path = self._session_dir / "HEAD"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (cid + "\n").encode())
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > 4096:
            atomic_write(path, (cid + "\n").encode(), self.root / "tmp", durable=False)
        self._head = cid

    def checkpoints(self) -> list[Manifest]:
        """Every readable checkpoint of this session, oldest first."""
        if not self._open(create=False):
            return []
        found = []
        for path in sorted(self._manifest_dir.glob("*.json")):
            try:
                found.append(self._manifest(path.stem))
            except UnsafeStoreError:
                raise
            except CheckpointError as exc:
                self.log.warning("skipping checkpoint: %s", exc)
        return found

    @property
    def head(self) -> str | None:
        """Id of the checkpoint the live namespace came from (None before the first)."""
        if not self._open(create=False):
            return None
        return self._head

    def forks(self) -> dict[str, str]:
        """Fork labels of this session → checkpoint ids."""
        if not self._open(create=False):
            return {}
        path = self._session_dir / "forks.json"
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def resolve_id(self, ref: str) -> str:
        """``3``, ``0003``, ``[0003]`` or a fork label → a checkpoint id (clear error if none)."""
        text = str(ref).strip()
        if not text:
            raise CheckpointNotFoundError("no checkpoint id given")
        if not self._open(create=False) or not self.checkpoints():
            raise CheckpointNotFoundError("there are no checkpoints yet")
        match = _ID.fullmatch(text)
        if match:
            cid = f"{int(match.group(1)):04d}"
            self._manifest(cid)
            return cid
        forks = self.forks()
        if text in forks:
            return forks[text]
        raise CheckpointNotFoundError(
            f"no checkpoint called {text!r} (use an id like 0003 or a fork label; /tree lists them)"
        )

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
            manifest = Manifest(
                id=f"{self._next_id:04d}",
                session=self.session_name,
                parent=self._head,
                kind=kind,
                label=label,
                python=sys.version.split()[0],
                meta=dict(meta or {}),
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
            self._write_manifest(manifest)
            self.write_seconds = time.perf_counter() - writing
            self._next_id += 1
            self._set_head(manifest.id)
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
        # The namespace now is that state: record it in this tree (the chunks are shared).
        with self._lock(exclusive=False):
            copy = Manifest(
                id=f"{self._next_id:04d}",
                session=self.session_name,
                parent=self._head,
                kind="auto",
                label=f"from [{where}] {tree.describe(target)}",
                python=sys.version.split()[0],
                meta={"restored_from": where},
                entries=target.entries,
                conversation=target.conversation,
            )
            self._write_manifest(copy)
            self._next_id += 1
            self._set_head(copy.id)
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
        holder = {n: (e.alias_of or n) if e.kind == "member" else n for n, e in entries.items()}
        to_load: set[str] = set()
        for name, entry in entries.items():
            if entry.kind == "unpicklable":
                continue
            if name not in namespace or not entry.same_content(current.entries.get(name)):
                to_load.add(holder[name])
        changed = True
        while changed:  # a group pointing at a reloaded name must be reloaded too
            changed = False
            for name, entry in entries.items():
                if entry.kind == "value" and name not in to_load:
                    if any(holder.get(r, r) in to_load for r in entry.refs):
                        to_load.add(name)
                        changed = True
        fresh, failed = self._load(
            entries, to_load, namespace, shown_as or target.id, map_buffers=map_buffers
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

    def _load(
        self,
        entries: Mapping[str, Any],
        to_load: set[str],
        namespace: dict,
        shown_as: str,
        *,
        map_buffers: bool = False,
        verify: bool = True,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Load the groups held by ``to_load`` into a fresh dict; names outside it come from
        ``namespace``. Returns the values and, per group that failed, why."""
        holder = {n: (e.alias_of or n) if e.kind == "member" else n for n, e in entries.items()}
        fresh: dict[str, Any] = {}
        done: set[str] = set()
        loading: set[str] = set()
        failed: dict[str, str] = {}

        def resolve(name: str) -> Any:
            entry = entries.get(name)
            if entry is None:
                raise CheckpointError(f"refers to '{name}', which the checkpoint does not have")
            if entry.kind == "unpicklable":
                if name in namespace:
                    return namespace[name]
                raise CheckpointError(f"refers to '{name}', which could not be stored")
            h = holder[name]
            if h in to_load:
                load(h)
                if name not in fresh:
                    raise CheckpointError(f"refers to '{name}', which could not be restored")
                return fresh[name]
            return namespace[name]

        def load(h: str) -> None:
            if h in done:
                return
            if h in loading:
                raise CorruptCheckpointError(f"circular reference through '{h}'")
            loading.add(h)
            entry = entries[h]
            try:
                if entry.kind == "module":
                    fresh[h] = _import(entry.module or h)
                else:
                    values = load_group(
                        entry,
                        chunks=self.chunks,
                        resolve=resolve,
                        namespace=namespace,
                        map_buffers=map_buffers,
                        verify=verify,
                    )
                    fresh.update(zip(entry.members, values, strict=True))
            except CorruptCheckpointError as exc:
                prefix = f"checkpoint [{shown_as}]: "
                if str(exc).startswith(prefix):
                    raise
                raise CorruptCheckpointError(prefix + str(exc)) from exc
            except UnsafeStoreError:
                raise
            except CheckpointError as exc:
                failed[h] = str(exc)
            finally:
                loading.discard(h)
                done.add(h)

        for h in sorted(to_load):
            load(h)
        return fresh, failed

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

    def manifest_of(self, ref: str) -> Manifest:
        """The manifest ``SESSION/ID`` (any session of this store) or ``ID`` (this one)."""
        if "/" in ref:
            if not self._open(create=False):
                raise CheckpointNotFoundError("there are no checkpoints yet")
            session, _, cid = ref.partition("/")
            if session == self.session_name:
                return self._manifest(self.resolve_id(cid))
            return self._foreign_manifest(ref)
        return self._manifest(self.resolve_id(ref))

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
        target = self.manifest_of(ref)
        if target.pruned:
            raise CheckpointError(f"checkpoint [{ref}] was pruned by gc; its data is gone")
        entries = target.entries
        wanted = list(entries) if names is None else list(dict.fromkeys(names))
        problems: dict[str, str] = {}
        to_load: set[str] = set()
        pending = []
        for name in wanted:
            entry = entries.get(name)
            if entry is None:
                problems[name] = "not in the checkpoint"
            elif entry.kind == "unpicklable":
                problems[name] = f"could not be stored ({entry.type_name}: {entry.error})"
            else:
                pending.append(name)
        while pending:  # holders of members, and everything the loaded data points at
            name = pending.pop()
            entry = entries.get(name)
            if entry is None or entry.kind == "unpicklable":
                continue
            holder = (entry.alias_of or name) if entry.kind == "member" else name
            if holder in to_load:
                continue
            to_load.add(holder)
            held = entries.get(holder)
            if held is not None:
                pending.extend(held.refs)
        fresh, failed = self._load(
            entries, to_load, namespace, ref, map_buffers=map_buffers, verify=verify
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
        target = self.manifest_of(ref)
        fresh, problems = self.load(
            ref, names, namespace=namespace, map_buffers=map_buffers, verify=verify
        )
        namespace.update(fresh)
        kept = {n: e for n, e in target.entries.items() if n in fresh}
        for name in problems:
            entry = target.entries.get(name)
            if entry is not None and entry.kind == "unpicklable":
                kept[name] = entry
        self._open(create=True)
        with self._lock(exclusive=False):
            copy = Manifest(
                id=f"{self._next_id:04d}",
                session=self.session_name,
                parent=self._head,
                kind="auto",
                label=f"from [{ref}] {tree.describe(target)}",
                python=sys.version.split()[0],
                meta={"restored_from": ref},
                entries=kept,
            )
            self._write_manifest(copy)
            self._next_id += 1
            self._set_head(copy.id)
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
        if _ID.fullmatch(label):
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
        atomic_write(
            self._session_dir / "forks.json",
            json.dumps(forks).encode(),
            self.root / "tmp",
            durable=False,
        )
        return CheckpointInfo.from_manifest(manifest, examined=examined, bytes_written=written)

    def manifest(self, ref: str) -> Manifest:
        """The checkpoint ``ref`` names (an id, a fork label, or ``SESSION/ID``)."""
        if "/" in str(ref):
            if not self._open(create=False):
                raise CheckpointNotFoundError("there are no checkpoints yet")
            return self._foreign_manifest(str(ref))
        return self._manifest(self.resolve_id(ref))

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

    def head_of(self, session: str) -> Manifest | None:
        """The current checkpoint of another kernel session (where its namespace was last)."""
        if not self._open(create=False) or _SAFE_SESSION.search(session) or session in (".", ".."):
            return None
        head = _read_head(self.root / "sessions" / session / "HEAD")
        if head is None:
            return None
        try:
            return self._foreign_manifest(f"{session}/{head}")
        except CheckpointError:
            return None

    def sessions(self) -> list[dict[str, Any]]:
        """Every kernel session of this store, newest activity first."""
        if not self._open(create=False):
            return []
        found = []
        for directory in (self.root / "sessions").iterdir():
            paths = sorted((directory / "checkpoints").glob("*.json"))
            newest = None
            for path in reversed(paths):
                try:
                    newest = _read_manifest(path, f"{directory.name}/{path.stem}")
                    break
                except CheckpointError:
                    continue
            found.append(
                {
                    "session": directory.name,
                    "current": directory.name == self.session_name,
                    "checkpoints": len(paths),
                    "newest": newest.id if newest else None,
                    "time": newest.time if newest else 0.0,
                    "label": tree.describe(newest) if newest else "",
                }
            )
        return sorted(found, key=lambda item: item["time"], reverse=True)

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


def _import(name: str) -> Any:
    """A module a checkpoint stored by name; a failure is "not rolled back", not fatal."""
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise CheckpointError(f"module {name!r} could not be imported: {exc}") from None


def _read_manifest(path: Path, label: str) -> Manifest:
    """Parse and check one manifest file, with errors people can act on."""
    try:
        manifest = Manifest.model_validate_json(read_private(path))
    except FileNotFoundError:
        raise CheckpointNotFoundError(f"checkpoint [{label}] does not exist") from None
    except (ValidationError, ValueError) as exc:
        raise CorruptCheckpointError(
            f"checkpoint [{label}] is damaged ({path.name}: {str(exc).splitlines()[0]})"
        ) from None
    if manifest.id != path.stem:
        raise CorruptCheckpointError(
            f"checkpoint [{label}] is damaged (it says it is {manifest.id})"
        )
    return manifest


def _read_head(path: Path) -> str | None:
    """The last complete line of the HEAD log, or None."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    lines = data.split(b"\n")[:-1]  # the part after the last newline is incomplete
    for line in reversed(lines):
        text = line.decode("ascii", "replace").strip()
        if text.isdigit():
            return text
    return None
