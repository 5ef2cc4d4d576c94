"""Content-addressed chunk storage and crash-safe file writes.

Every file the store writes goes temp file → fsync → rename (→ fsync of the
directory), so a process killed at any instant leaves either the old file or the
new one, never a torn one.  Chunks are named by their xxh3-128 hash; a chunk that
already exists is never written again, which is what makes a checkpoint of
untouched data nearly free.  Hashing and writing work on memoryview slices, so a
big buffer is never copied.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import CorruptCheckpointError, UnsafeStoreError
from .records import BlobRef

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _check_mode(path: Path, st: os.stat_result, directory: bool) -> None:
    """Refuse ``st`` unless it is a plain file/directory of ours no one else can write."""
    plain = stat.S_ISDIR(st.st_mode) if directory else stat.S_ISREG(st.st_mode)
    if not plain:
        what = "directory" if directory else "file"
        raise UnsafeStoreError(f"{path} is not a plain {what}; refusing to use it")
    if st.st_uid != os.getuid():
        raise UnsafeStoreError(
            f"{path} belongs to another user (uid {st.st_uid}); refusing to load "
            "checkpoints from it (unpickling runs code)"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        fix = "chmod 700 " if directory else "chmod 600 "
        raise UnsafeStoreError(
            f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o}); "
            "refusing to use it. Fix with: " + fix + str(path)
        )


def check_private_dir(path: Path, *, missing_ok: bool = False) -> None:
    """``path`` is a directory (not a symlink) of this user that only this user can write."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    _check_mode(path, st, directory=True)


def make_private_dir(path: Path) -> None:
    """Create ``path`` 0700 whatever the umask (or check the existing one is private)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    else:
        os.chmod(path, 0o700, follow_symlinks=False)
    check_private_dir(path)


def read_private(path: Path) -> bytes:
    """The bytes of ``path``, opened without following a symlink and checked as private.

    Used for everything that is unpickled (manifests hold inline pickle streams,
    chunks hold the rest): a file another user could have written is refused.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:  # ELOOP: a symlink
        raise UnsafeStoreError(f"{path} cannot be opened safely ({exc})") from None
    try:
        _check_mode(path, os.fstat(fd), directory=False)
        with os.fdopen(fd, "rb", buffering=0, closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def _hash(data: memoryview | bytes) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(data)


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: memoryview) -> None:
    view = data
    while view.nbytes:
        written = os.write(fd, view)
        view = view[written:]


def atomic_write(
    path: Path, data: bytes | memoryview, tmp_dir: Path, *, durable: bool = True
) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one.

    ``durable`` fsyncs the data before the rename (chunks, manifests).  Without it
    the rename is still atomic, which is all a pointer file such as HEAD needs:
    after a power loss it may point one checkpoint back, never at garbage.
    """
    tmp = tmp_dir / f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        _write_all(fd, memoryview(data).cast("B"))
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)


class ChunkStore:
    """``objects/ab/<32 hex>`` files holding raw chunk bytes, written only when unseen."""

    def __init__(self, root: Path, tmp_dir: Path, chunk_size: int, inline_limit: int) -> None:
        self.root = root
        self.tmp_dir = tmp_dir
        self.chunk_size = chunk_size
        self.inline_limit = inline_limit
        self.bytes_written = 0
        self._unsynced_dirs: set[Path] = set()

    def sync(self) -> None:
        """Make the renames of new chunks durable; called before a manifest names them."""
        for directory in sorted(self._unsynced_dirs):
            fsync_dir(directory)
        self._unsynced_dirs.clear()

    def path(self, key: str) -> Path:
        """Where the chunk called ``key`` lives."""
        return self.root / key[:2] / key[2:]

    def put_chunk(self, data: memoryview) -> str:
        """Store one chunk (if new) and return its key."""
        key = _hash(data)
        path = self.path(key)
        if not path.exists():
            make_private_dir(path.parent)
            atomic_write(path, data, self.tmp_dir)
            self._unsynced_dirs.add(path.parent)
            self.bytes_written += data.nbytes
        return key

    def put_buffer(self, data: memoryview | bytes) -> BlobRef:
        """Store a byte buffer (inline when small, else chunked) without copying it."""
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        size = view.nbytes
        if size <= self.inline_limit:
            return BlobRef(size=size, inline=base64.b64encode(view).decode("ascii"))
        chunks = []
        for start in range(0, size, self.chunk_size):
            piece = view[start : start + self.chunk_size]
            chunks.append((self.put_chunk(piece), piece.nbytes))
        return BlobRef(size=size, chunks=chunks)

    def read(self, blob: BlobRef, what: str) -> bytearray:
        """The bytes of ``blob`` in a fresh writable buffer, every chunk hash-checked."""
        if blob.inline is not None:
            data = bytearray(base64.b64decode(blob.inline))
            if len(data) != blob.size:
                raise CorruptCheckpointError(f"inline data of {what} has the wrong size")
            return data
        out = bytearray(blob.size)
        view = memoryview(out)
        offset = 0
        check_private_dir(self.root)
        for key, size in blob.chunks:
            piece = view[offset : offset + size]
            path = self.path(key)
            try:
                check_private_dir(path.parent)
                fd = os.open(path, os.O_RDONLY | _NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                raise CorruptCheckpointError(f"chunk {key[:12]}… of {what} is missing") from None
            except OSError as exc:  # ELOOP: a symlink where a chunk should be
                raise UnsafeStoreError(f"{path} cannot be opened safely ({exc})") from None
            try:
                _check_mode(path, os.fstat(fd), directory=False)
                with os.fdopen(fd, "rb", buffering=0, closefd=False) as fh:
                    got = fh.readinto(piece)
                    extra = fh.read(1)
            finally:
                os.close(fd)
            if got != size or extra or _hash(piece) != key:
                raise CorruptCheckpointError(f"chunk {key[:12]}… of {what} is corrupt")
            offset += size
        if offset != blob.size:
            raise CorruptCheckpointError(f"{what} has the wrong size")
        return out

    def keys(self) -> Iterator[tuple[str, Path]]:
        """Every stored chunk key with its path."""
        if not self.root.is_dir():
            return
        for shard in self.root.iterdir():
            if len(shard.name) != 2 or not shard.is_dir():
                continue
            for item in shard.iterdir():
                yield shard.name + item.name, item


class BlobSink:
    """A write-only file for a pickler: buffers up to a chunk, stores full chunks as they fill.

    The pickle stream of a large in-band object never sits in memory whole.
    """

    def __init__(self, chunks: ChunkStore) -> None:
        self._chunks = chunks
        self._buf = bytearray()
        self._refs: list[tuple[str, int]] = []
        self._size = 0

    def write(self, data: bytes | memoryview) -> int:
        n = memoryview(data).nbytes
        self._buf += data
        self._size += n
        limit = self._chunks.chunk_size
        if len(self._buf) >= limit and self._size > self._chunks.inline_limit:
            view = memoryview(self._buf)
            start = 0
            while len(self._buf) - start >= limit:
                self._refs.append((self._chunks.put_chunk(view[start : start + limit]), limit))
                start += limit
            view.release()
            del self._buf[:start]
        return n

    def close(self) -> BlobRef:
        """Store what is left and return the reference to the whole stream."""
        if not self._refs and self._size <= self._chunks.inline_limit:
            return BlobRef(size=self._size, inline=base64.b64encode(self._buf).decode("ascii"))
        if self._buf:
            self._refs.append((self._chunks.put_chunk(memoryview(self._buf)), len(self._buf)))
        self._buf = bytearray()
        return BlobRef(size=self._size, chunks=self._refs)
