"""The seed's job-completion contract: ``<flagRoot>/.imac/flags/<sessionId>/{running,failed}.flag``.

Every submit writes ``running.flag`` (and clears ``failed.flag``); the agent — told by its
instructions, or the fake agent by itself — removes ``running.flag`` when the job is done and
writes ``failed.flag`` if it failed. Real files, so any process of the user can watch them.

The flag root is the project directory, a tree other tools (and the agent) write to, so the
path below it is walked one directory at a time with ``O_NOFOLLOW``: a ``.imac`` (or ``flags``,
or session) entry that is a symbolic link, or a directory owned by someone else, is refused
instead of followed out of the project. New directories are 0700, ``running.flag`` is 0600 and
holds only the time of the submit (never prompt text).
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import UnsafeFlagDir

RUNNING = "running.flag"
FAILED = "failed.flag"
FLAG_SUBDIR = (".imac", "flags")


class JobFlags:
    """The flag directory of one session."""

    def __init__(self, flag_root: Path, session_id: str) -> None:
        self.root = Path(flag_root)
        self.parts = (*FLAG_SUBDIR, session_id)
        self.dir = self.root.joinpath(*self.parts)

    @contextlib.contextmanager
    def _open_dir(self, *, create: bool) -> Iterator[int]:
        """A descriptor of the flag directory reached without following any symlink below
        the root; missing levels are created 0700 when ``create``."""
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        if create:  # the root is the caller's own choice (resolved when the session began)
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root, flags)
        try:
            for name in self.parts:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(name, 0o700, dir_fd=fd)
                try:
                    child = os.open(name, flags, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise UnsafeFlagDir(
                            f"the job-flag path {self.dir} has an entry that is not a real "
                            f"directory ({name!r} is a symbolic link or a file); aimax does not "
                            "follow links out of the project: remove it, or pass another flagRoot"
                        ) from None
                    raise
                os.close(fd)
                fd = child
                if os.fstat(fd).st_uid != os.geteuid():
                    raise UnsafeFlagDir(
                        f"the job-flag directory {name!r} under {self.root} belongs to another "
                        "user; remove it, or pass another flagRoot"
                    )
            yield fd
        finally:
            os.close(fd)

    def prepare(self) -> None:
        """Create the flag directory (0700), or refuse it before an agent is started."""
        with self._open_dir(create=True):
            pass

    def arm(self) -> None:
        """Mark a job as running (called on every submit)."""
        with self._open_dir(create=True) as fd:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(FAILED, dir_fd=fd)
            tmp = f".{RUNNING}.{os.getpid()}.tmp"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=fd)
            out = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd
            )
            try:
                os.write(out, f"{time.time():.3f}\n".encode())
            finally:
                os.close(out)
            os.replace(tmp, RUNNING, src_dir_fd=fd, dst_dir_fd=fd)

    def _has(self, name: str) -> bool | None:
        """Whether the flag file exists; None when the flag directory does not (or is unsafe)."""
        try:
            with self._open_dir(create=False) as fd:
                try:
                    os.stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    return False
                return True
        except (OSError, UnsafeFlagDir):
            return None

    def is_running(self) -> bool:
        return bool(self._has(RUNNING))

    def is_failed(self) -> bool:
        return bool(self._has(FAILED))

    def is_accomplished(self) -> bool:
        """True once the agent removed ``running.flag`` (success or failure)."""
        return self._has(RUNNING) is False
