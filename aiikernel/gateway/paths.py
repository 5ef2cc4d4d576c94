"""Where a user's model gateway lives, and the checks that keep its channel private.

One gateway serves one ``AIIPYTHON_HOME`` of one user. Its directory holds the Unix
socket, the start lock, a state file (pid, version) and the gateway's log::

    $XDG_RUNTIME_DIR/aiikernel/<hash of AIIPYTHON_HOME>/     (0700)
    /tmp/aiikernel-<uid>/<hash of AIIPYTHON_HOME>/            (0700, without XDG_RUNTIME_DIR)
        gateway.sock   0600   the channel (HTTP over a Unix socket)
        gateway.lock   0600   held while a gateway is started, replaced or leaves
        gateway.json   0600   pid and version of the gateway that bound the socket
        gateway.log    0600   its stderr

``AIIPYTHON_RUNTIME_DIR`` replaces the first level; ``AIIPYTHON_GATEWAY_DIR`` names the
gateway's directory itself. A directory or socket that another user owns, or that others
may write, is never used: only the user (and root) can reach the channel.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Longest path a Unix socket can bind on Linux (sun_path is 108 bytes with the NUL).
MAX_SOCKET_PATH = 107


class UnsafePath(Exception):
    """A gateway directory or socket is not private to this user; the message says why."""


@dataclass(frozen=True)
class GatewayPaths:
    """The files of one gateway."""

    directory: Path
    home: Path

    @property
    def socket(self) -> Path:
        return self.directory / "gateway.sock"

    @property
    def lock(self) -> Path:
        return self.directory / "gateway.lock"

    @property
    def state(self) -> Path:
        return self.directory / "gateway.json"

    @property
    def log(self) -> Path:
        return self.directory / "gateway.log"


def aiipython_home() -> Path:
    """``$AIIPYTHON_HOME`` or ``~/.aiipython``, resolved (the gateway's identity)."""
    override = os.environ.get("AIIPYTHON_HOME", "").strip()
    home = (
        Path(override).expanduser()
        if override
        else Path(os.environ.get("HOME") or Path.home()) / ".aiipython"
    )
    return Path(os.path.realpath(home))


def runtime_root() -> Path:
    """The per-user directory under which gateway directories are made."""
    explicit = os.environ.get("AIIPYTHON_RUNTIME_DIR", "").strip()
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if xdg and os.path.isdir(xdg) and os.stat(xdg).st_uid == os.geteuid():
        return Path(xdg) / "aiikernel"
    return Path(tempfile.gettempdir()) / f"aiikernel-{os.geteuid()}"


def gateway_paths(home: Path | None = None) -> GatewayPaths:
    """The gateway directory for ``home`` (default: this process's ``AIIPYTHON_HOME``)."""
    home = Path(os.path.realpath(home)) if home is not None else aiipython_home()
    explicit = os.environ.get("AIIPYTHON_GATEWAY_DIR", "").strip()
    if explicit:
        return GatewayPaths(Path(explicit), home)
    digest = hashlib.sha256(os.fsencode(home)).hexdigest()[:16]
    return GatewayPaths(runtime_root() / digest, home)


def private_directory(path: Path, *, parents: int = 1) -> Path:
    """Create ``path`` 0700 (and up to ``parents`` missing parents), then check it is ours.

    Raises :class:`UnsafePath` when it is a symlink, not a directory, owned by someone
    else, or writable by others; a directory of ours that is merely readable by others is
    tightened to 0700.
    """
    chain = [path]
    for _ in range(parents):
        chain.insert(0, chain[0].parent)
    for item in chain:
        try:
            os.mkdir(item, 0o700)
        except FileExistsError:
            pass
        except FileNotFoundError:
            raise UnsafePath(f"{item.parent} does not exist") from None
        except OSError as exc:
            raise UnsafePath(f"cannot create {item}: {exc.strerror}") from None
        check_private_directory(item)
    return path


def check_private_directory(path: Path) -> None:
    """:class:`UnsafePath` unless ``path`` is a real directory of ours, 0700 (tightened if needed)."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UnsafePath(f"{path} is not a directory")
    if info.st_uid != os.geteuid():
        raise UnsafePath(f"{path} belongs to another user (uid {info.st_uid})")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        raise UnsafePath(f"{path} is writable by other users (mode {mode:o})")
    if mode != 0o700:
        os.chmod(path, 0o700)


def check_socket(path: Path) -> bool:
    """Whether ``path`` exists as a socket of ours; :class:`UnsafePath` for anything else there."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(info.st_mode):
        raise UnsafePath(f"{path} exists and is not a socket")
    if info.st_uid != os.geteuid():
        raise UnsafePath(f"{path} belongs to another user (uid {info.st_uid})")
    return True


def prepare(paths: GatewayPaths) -> GatewayPaths:
    """Make the gateway directory (private, checked) and check the socket path fits."""
    if len(os.fsencode(paths.socket)) > MAX_SOCKET_PATH:
        raise UnsafePath(
            f"{paths.socket} is longer than a Unix socket path may be "
            f"({MAX_SOCKET_PATH} bytes); set AIIPYTHON_RUNTIME_DIR to a shorter directory"
        )
    explicit = bool(os.environ.get("AIIPYTHON_GATEWAY_DIR", "").strip())
    private_directory(paths.directory, parents=0 if explicit else 1)
    return paths


def open_private(path: Path, flags: int) -> int:
    """``os.open`` with mode 0600, refusing to follow a symlink; tightens an existing file."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    info = os.fstat(fd)
    if info.st_uid != os.geteuid():
        os.close(fd)
        raise UnsafePath(f"{path} belongs to another user (uid {info.st_uid})")
    if stat.S_IMODE(info.st_mode) != 0o600:
        os.fchmod(fd, 0o600)
    return fd
