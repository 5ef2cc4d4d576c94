"""One kernel session's files in a checkpoint store: opening, manifests, HEAD and forks.

The layer under :class:`~.store.CheckpointStore` that knows where things live and how
they are written safely, and nothing about namespaces.  Layout of the store directory
(created 0700, refused when not private)::

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
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from traitlets import Int, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from . import tree
from .errors import (
    CheckpointError,
    CheckpointNotFoundError,
    CorruptCheckpointError,
    UnsafeStoreError,
)
from .objects import (
    ChunkStore,
    atomic_write,
    check_private_dir,
    make_private_dir,
    read_private,
)
from .records import CheckpointKind, ConversationRef, Entry, Manifest

MiB = 1024 * 1024
CHECKPOINT_ID = re.compile(r"^\[?(\d{1,9})\]?$")
_UNSAFE_IN_SESSION = re.compile(r"[^A-Za-z0-9._-]+")


def safe_session_name(name: str) -> str:
    """``name`` with everything but letters, digits, ``._-`` turned into ``-``."""
    return _UNSAFE_IN_SESSION.sub("-", name).strip(".-")


def is_session_name(name: str) -> bool:
    """Whether ``name`` can only be a directory right under ``sessions/``."""
    return bool(name) and not _UNSAFE_IN_SESSION.search(name) and name not in (".", "..")


class SessionFiles(LoggingConfigurable):
    """The store directory as seen by one kernel session (opened lazily, on first need)."""

    directory = Unicode(
        ".aiipython_checkpoints",
        help="Directory of the checkpoint store (created 0700; refused if another user owns it "
        "or it is group/world-writable, because loading a checkpoint runs pickled code).",
    ).tag(config=True)
    chunk_size = Int(
        8 * MiB, help="Size of the chunks big buffers are cut into (4–16 MiB is the sweet spot)."
    ).tag(config=True)
    inline_limit = Int(
        16 * 1024,
        help="Pickle streams up to this many bytes are kept inside the manifest (no chunk file).",
    ).tag(config=True)
    session_name = Unicode(
        help="Name of this process's checkpoint tree (default: the notebook's name when "
        "jupyter_server gives it, start time and pid)."
    ).tag(config=True)

    @default("session_name")
    def _default_session_name(self) -> str:
        # jupyter_server tells kernels which notebook they serve; it makes the
        # sessions of /checkpoints sessions recognisable after a restart.
        notebook = Path(os.environ.get("JPY_SESSION_NAME", "")).stem
        stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
        return safe_session_name(f"{notebook}-{stamp}") if notebook else stamp

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
        value = safe_session_name(str(proposal["value"]))
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
            check_private_dir(path, missing_ok=True)
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
        head = read_head(self._session_dir / "HEAD")
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
        manifest = read_manifest(self._manifest_path(cid), cid)
        self._manifests[cid] = manifest
        return manifest

    def _foreign_manifest(self, ref: str) -> Manifest:
        """``SESSION/ID``: a checkpoint of another kernel session of this store."""
        session, _, cid = ref.strip().partition("/")
        match = CHECKPOINT_ID.fullmatch(cid.strip())
        if not match or not is_session_name(session):
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
        return read_manifest(directory / "checkpoints" / f"{cid}.json", f"{session}/{cid}")

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

    def _new_manifest(
        self,
        *,
        kind: CheckpointKind,
        label: str,
        entries: Mapping[str, Entry],
        meta: Mapping[str, Any] | None = None,
        conversation: ConversationRef | None = None,
    ) -> Manifest:
        """The next checkpoint of this session as a child of HEAD (not written yet)."""
        return Manifest(
            id=f"{self._next_id:04d}",
            session=self.session_name,
            parent=self._head,
            kind=kind,
            label=label,
            python=sys.version.split()[0],
            meta=dict(meta or {}),
            entries=dict(entries),
            conversation=conversation,
        )

    def _commit(self, manifest: Manifest) -> None:
        """Write ``manifest`` and make it HEAD (the caller holds the shared lock)."""
        self._write_manifest(manifest)
        self._next_id += 1
        self._set_head(manifest.id)

    def _record_copy(
        self,
        source: Manifest,
        where: str,
        entries: Mapping[str, Entry],
        conversation: ConversationRef | None = None,
    ) -> Manifest:
        """Record ``entries`` of checkpoint ``where`` (another session's) as this session's
        new HEAD: the namespace now holds that state, and the chunks are shared."""
        self._open(create=True)
        with self._lock(exclusive=False):
            copy = self._new_manifest(
                kind="auto",
                label=f"from [{where}] {tree.describe(source)}",
                meta={"restored_from": where},
                entries=entries,
                conversation=conversation,
            )
            self._commit(copy)
        return copy

    # -- reading ---------------------------------------------------------------

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

    def _write_forks(self, forks: Mapping[str, str]) -> None:
        atomic_write(
            self._session_dir / "forks.json",
            json.dumps(dict(forks)).encode(),
            self.root / "tmp",
            durable=False,
        )

    def resolve_id(self, ref: str) -> str:
        """``3``, ``0003``, ``[0003]`` or a fork label → a checkpoint id (clear error if none)."""
        text = str(ref).strip()
        if not text:
            raise CheckpointNotFoundError("no checkpoint id given")
        if not self._open(create=False) or not self.checkpoints():
            raise CheckpointNotFoundError("there are no checkpoints yet")
        match = CHECKPOINT_ID.fullmatch(text)
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

    def manifest(self, ref: str) -> Manifest:
        """The checkpoint ``ref`` names: an id or fork label of this session, or
        ``SESSION/ID`` of any session of this store."""
        ref = str(ref)
        if "/" in ref:
            if not self._open(create=False):
                raise CheckpointNotFoundError("there are no checkpoints yet")
            session, _, cid = ref.partition("/")
            if session.strip() == self.session_name:
                return self._manifest(self.resolve_id(cid))
            return self._foreign_manifest(ref)
        return self._manifest(self.resolve_id(ref))

    def head_of(self, session: str) -> Manifest | None:
        """The current checkpoint of another kernel session (where its namespace was last)."""
        if not self._open(create=False) or not is_session_name(session):
            return None
        head = read_head(self.root / "sessions" / session / "HEAD")
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
                    newest = read_manifest(path, f"{directory.name}/{path.stem}")
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


def read_manifest(path: Path, label: str) -> Manifest:
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


def read_head(path: Path) -> str | None:
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
