"""Garbage collection of a checkpoint store.

Three steps, under the store's exclusive lock (no checkpoint is being written):

1. temp files left by crashes are deleted, and so are the trees of *other* kernel
   sessions untouched for ``keep_sessions_days`` (manifests first, so a tree half
   deleted by a crash never points at missing data);
2. with a size cap, the oldest checkpoints are rewritten as data-less stubs
   ("pruned": they stay in the tree, cannot be restored) until the data they
   still need fits — never the current checkpoint or a fork of this session;
3. every chunk no remaining manifest names is deleted.  An unreadable manifest
   stops this step: its chunks cannot be told apart, so nothing is deleted.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from .objects import ChunkStore, atomic_write
from .records import Manifest


@dataclass
class GcPolicy:
    """What a collection may remove."""

    cap: int = 0
    keep_sessions_days: float = 0.0
    session: str = ""
    #: Checkpoint ids of ``session`` that are never pruned (HEAD, forks).
    protected: set[str] = field(default_factory=set)


def empty_result() -> dict[str, int]:
    return {
        "removed_chunks": 0,
        "removed_bytes": 0,
        "pruned": 0,
        "dropped_sessions": 0,
        "kept_bytes": 0,
    }


def collect(
    root: Path, chunks: ChunkStore, policy: GcPolicy, log: logging.Logger | logging.LoggerAdapter
) -> tuple[dict[str, int], list[Manifest]]:
    """Run one collection; returns the counts and the manifests that became stubs."""
    result = empty_result()
    for tmp in (root / "tmp").iterdir():
        tmp.unlink(missing_ok=True)
    result["dropped_sessions"] = _drop_stale_sessions(root, policy)
    manifests = _all_manifests(root)
    sizes = {key: path.stat().st_size for key, path in chunks.keys()}
    stubs: list[Manifest] = []
    if policy.cap > 0:
        stubs = _prune(root, manifests, sizes, policy)
        result["pruned"] = len(stubs)
        if stubs:
            manifests = _all_manifests(root)
    live: set[str] = set()
    for path, manifest in manifests:
        if manifest is None:
            log.warning("gc: %s is unreadable; no chunk is deleted", path)
            result["kept_bytes"] = sum(sizes.values())
            return result, stubs
        if not manifest.pruned:
            live.update(manifest.chunk_keys())
    for key, size in sizes.items():
        if key not in live:
            chunks.path(key).unlink(missing_ok=True)
            result["removed_chunks"] += 1
            result["removed_bytes"] += size
    result["kept_bytes"] = sum(s for k, s in sizes.items() if k in live)
    return result, stubs


def _all_manifests(root: Path) -> list[tuple[Path, Manifest | None]]:
    found: list[tuple[Path, Manifest | None]] = []
    for path in sorted((root / "sessions").glob("*/checkpoints/*.json")):
        try:
            found.append((path, Manifest.model_validate_json(path.read_bytes())))
        except (ValidationError, ValueError, OSError):
            found.append((path, None))
    return found


def _drop_stale_sessions(root: Path, policy: GcPolicy) -> int:
    """Delete other sessions' trees idle for longer than ``keep_sessions_days``."""
    if policy.keep_sessions_days <= 0:
        return 0
    cutoff = time.time() - policy.keep_sessions_days * 86400
    dropped = 0
    for session in (root / "sessions").iterdir():
        if session.name == policy.session or not session.is_dir():
            continue
        files = [p for p in session.rglob("*") if p.is_file()]
        if max((p.stat().st_mtime for p in files), default=0) > cutoff:
            continue
        manifests = [p for p in files if p.suffix == ".json" and p.parent.name == "checkpoints"]
        for path in manifests:  # manifests first: a half-deleted tree has no dangling data
            path.unlink(missing_ok=True)
        for path in files:
            path.unlink(missing_ok=True)
        for directory in sorted((p for p in session.rglob("*") if p.is_dir()), reverse=True):
            directory.rmdir()
        session.rmdir()
        dropped += 1
    return dropped


def _prune(
    root: Path,
    manifests: list[tuple[Path, Manifest | None]],
    sizes: dict[str, int],
    policy: GcPolicy,
) -> list[Manifest]:
    """Rewrite the oldest checkpoints as data-less stubs until the live data fits the cap."""
    users: dict[str, int] = {}
    for _, m in manifests:
        if m is not None and not m.pruned:
            for key in m.chunk_keys():
                users[key] = users.get(key, 0) + 1
    total = sum(sizes.get(k, 0) for k in users)
    stubs: list[Manifest] = []
    candidates = sorted(
        ((p, m) for p, m in manifests if m is not None and not m.pruned),
        key=lambda pm: pm[1].time,
    )
    for path, m in candidates:
        if total <= policy.cap:
            break
        if m.session == policy.session and m.id in policy.protected:
            continue
        for key in m.chunk_keys():
            users[key] -= 1
            if users[key] == 0:
                total -= sizes.get(key, 0)
        stub = m.model_copy(update={"entries": {}, "conversation": None, "pruned": True})
        atomic_write(path, stub.model_dump_json().encode(), root / "tmp")
        stubs.append(stub)
    return stubs
