"""Map a stored buffer's chunk files copy-on-write instead of reading them.

A clone (a sub-agent's namespace) or a pull needs the same bytes the store already holds in
immutable chunk files. Reading them copies every byte into fresh memory; mapping them
``MAP_PRIVATE`` costs a few page-table entries, and every process mapping the same chunk
shares its pages (the page cache) until it writes to them. A buffer made of several chunks
must be one contiguous range for ``numpy.frombuffer``: an anonymous region of the whole size
is reserved with :class:`mmap.mmap` (which owns it and unmaps it when the last array using it
goes away), and each chunk file is mapped over its slice with ``MAP_FIXED``.

Chunks are checked as the store checks them before reading (a plain file of this user that
nobody else can write, opened without following symlinks, of the recorded size); their
contents are hashed only with ``verify=True`` (hashing reads every page, which is what
mapping avoids). Anything that cannot be mapped (inline or small data, chunk sizes that are
not whole pages, another OS) returns None and the caller reads instead.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys

from .errors import CorruptCheckpointError, UnsafeStoreError
from .objects import _NOFOLLOW, ChunkStore, _check_mode, _hash, check_private_dir
from .records import BlobRef

#: Buffers smaller than this are read: a mapping per tiny buffer costs more than a copy.
MIN_MAPPED = 1024 * 1024

_MAP_FIXED = 0x10  # Linux; mmap does not export it before Python 3.13
_MAP_FAILED = ctypes.c_void_p(-1).value
_libc_mmap = None


def _mmap_function() -> object | None:
    global _libc_mmap
    if _libc_mmap is None and sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.mmap
        function.restype = ctypes.c_void_p
        function.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_long,
        ]
        _libc_mmap = function
    return _libc_mmap


def mappable(blob: BlobRef) -> bool:
    """Whether ``blob`` can be mapped: chunked, big enough, every chunk but the last whole pages."""
    if blob.inline is not None or not blob.chunks or blob.size < MIN_MAPPED:
        return False
    if _mmap_function() is None:
        return False
    return all(size % mmap.PAGESIZE == 0 for _, size in blob.chunks[:-1])


def _digest(region: mmap.mmap, offset: int, size: int) -> str:
    with memoryview(region) as view, view[offset : offset + size] as piece:
        return _hash(piece)


def map_blob(chunks: ChunkStore, blob: BlobRef, what: str, *, verify: bool = False) -> mmap.mmap:
    """The bytes of ``blob`` as one private (copy-on-write) mapping of its chunk files.

    The caller checked :func:`mappable`. Writing to the result copies only the written pages.
    """
    function = _mmap_function()
    assert function is not None
    region = mmap.mmap(
        -1,
        blob.size,
        flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
        prot=mmap.PROT_READ | mmap.PROT_WRITE,
    )
    anchor = ctypes.c_char.from_buffer(region)
    base = ctypes.addressof(anchor)
    del anchor  # the region must not stay exported, or it could never be closed
    check_private_dir(chunks.root)
    offset = 0
    for key, size in blob.chunks:
        path = chunks.path(key)
        try:
            check_private_dir(path.parent)
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            region.close()
            raise CorruptCheckpointError(f"chunk {key[:12]}… of {what} is missing") from None
        except OSError as exc:
            region.close()
            raise UnsafeStoreError(f"{path} cannot be opened safely ({exc})") from None
        try:
            st = os.fstat(fd)
            _check_mode(path, st, directory=False)
            if st.st_size != size:
                raise CorruptCheckpointError(f"chunk {key[:12]}… of {what} has the wrong size")
            address = function(
                base + offset,
                size,
                mmap.PROT_READ | mmap.PROT_WRITE,
                mmap.MAP_PRIVATE | _MAP_FIXED,
                fd,
                0,
            )
            if address in (None, _MAP_FAILED) or address != base + offset:
                error = ctypes.get_errno()
                raise OSError(error, f"mmap of {path} failed: {os.strerror(error)}")
        except BaseException:
            region.close()
            raise
        finally:
            os.close(fd)
        if verify and _digest(region, offset, size) != key:
            region.close()
            raise CorruptCheckpointError(f"chunk {key[:12]}… of {what} is corrupt")
        offset += size
    if offset != blob.size:
        region.close()
        raise CorruptCheckpointError(f"{what} has the wrong size")
    return region
