"""Resolve client paths inside the server's root directory (symlinks followed).

A client names a directory relative to the root (Jupyter's API-path convention) or absolutely;
either way the *resolved* path must be the root or below it, so a symlink pointing out of the
root is refused like ``../..`` is.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from .errors import InvalidField, PathOutsideRoot


def resolve_inside(root: str | Path, value: str | None, field: str) -> Path:
    """The real directory ``value`` names under ``root``; raise naming ``field`` otherwise."""
    real_root = Path(os.path.realpath(root))
    if value is None or value.strip() in ("", "."):
        return real_root
    candidate = Path(value.strip()).expanduser() if value.startswith("~") else Path(value)
    if not candidate.is_absolute():
        candidate = real_root / candidate
    shown = value if len(value) <= 200 else value[:200] + "…"
    try:
        real = Path(os.path.realpath(candidate))
        if real != real_root and not real.is_relative_to(real_root):
            raise PathOutsideRoot(field, f"{shown!r} resolves outside the server's root directory")
        if not real.exists():
            raise InvalidField(field, f"{shown!r} does not exist; create the directory first")
        if not real.is_dir():
            raise InvalidField(field, f"{shown!r} is not a directory")
    except OSError as exc:  # name too long, permission denied, loops …
        raise InvalidField(field, f"{shown!r} cannot be used ({exc.strerror})") from None
    return real


def shown_path(root: str | Path, path: str | None) -> str | None:
    """A server-side file path as clients see it: relative to the root when inside it,
    ``~/…`` under the server user's home (the home directory itself is not disclosed)."""
    if not path:
        return path
    inside = api_path(root, path)
    if inside != str(path):
        return inside
    home = Path(os.path.expanduser("~"))
    p = Path(path)
    if home != Path("/") and p.is_relative_to(home):
        return "~/" + p.relative_to(home).as_posix()
    return str(p)


def api_path(root: str | Path, path: str | Path) -> str:
    """``path`` relative to the root when inside it (Jupyter style), else unchanged."""
    real_root = _real_root(str(root))
    p = Path(path)
    if p == real_root:
        return ""
    if p.is_relative_to(real_root):
        return p.relative_to(real_root).as_posix()
    return str(p)


@functools.lru_cache(maxsize=8)
def _real_root(root: str) -> Path:
    """The root's real path, resolved once: the sessions list shows every session's paths
    relative to it on every request, and resolving means a system call per path component."""
    return Path(os.path.realpath(root))
