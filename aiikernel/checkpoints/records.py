"""JSON-safe records of the store: blob references, manifest entries, manifests and reports.

A manifest is the only file that describes a checkpoint; chunks are opaque bytes
named by their hash.  Records are pydantic models so a damaged or foreign file is
rejected with a clear validation error instead of half-loading.
"""

from __future__ import annotations

import time as _time
from typing import Any, Literal

from pydantic import BaseModel, Field

MANIFEST_FORMAT = 1


class BlobRef(BaseModel):
    """A byte string stored as content-addressed chunks, or inline (base64) when small."""

    size: int
    chunks: list[tuple[str, int]] = Field(default_factory=list)
    inline: str | None = None

    def keys(self) -> list[str]:
        """The chunk keys this blob needs."""
        return [key for key, _ in self.chunks]


EntryKind = Literal["value", "member", "module", "unpicklable"]


class Entry(BaseModel):
    """How one namespace name was stored.

    ``value``: a pickle stream (of the tuple of ``members``' values, pickled together
    so objects they share stay shared) plus out-of-band buffers; ``refs`` lists the
    other names its stream points at, so a restore brings those back consistently.
    ``member``: stored inside the ``value`` entry of ``alias_of``.
    ``module``: re-imported by name.  ``unpicklable``: recorded, never restored.
    """

    kind: EntryKind
    digest: str = ""
    codec: Literal["pickle", "dill"] | None = None
    stream: BlobRef | None = None
    buffers: list[BlobRef] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)
    refs: list[str] = Field(default_factory=list)
    alias_of: str | None = None
    module: str | None = None
    type_name: str = ""
    error: str = ""

    def same_content(self, other: Entry | None) -> bool:
        """True when restoring ``other`` over this entry would change nothing by itself."""
        if other is None or other.kind != self.kind:
            return False
        if self.kind == "value":
            return self.digest == other.digest
        if self.kind == "member":
            return self.alias_of == other.alias_of
        if self.kind == "module":
            return self.module == other.module
        return False

    def chunk_keys(self) -> list[str]:
        """Every chunk this entry needs."""
        keys: list[str] = []
        for blob in ([self.stream] if self.stream else []) + self.buffers:
            keys.extend(blob.keys())
        return keys


CheckpointKind = Literal["turn", "auto", "fork", "manual"]


class Manifest(BaseModel):
    """One checkpoint: where it came from, what it is called, and every stored name."""

    format: int = MANIFEST_FORMAT
    id: str
    session: str
    parent: str | None = None
    kind: CheckpointKind = "manual"
    label: str = ""
    time: float = Field(default_factory=_time.time)
    python: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)
    entries: dict[str, Entry] = Field(default_factory=dict)
    pruned: bool = False

    def unpicklable(self) -> dict[str, str]:
        """Names that could not be stored, with their type names."""
        return {n: e.type_name for n, e in self.entries.items() if e.kind == "unpicklable"}


class CheckpointInfo(BaseModel):
    """What ``checkpoint()`` and ``fork()`` hand back."""

    id: str
    label: str
    kind: CheckpointKind
    time: float
    parent: str | None
    names: list[str] = Field(default_factory=list)
    examined: list[str] = Field(default_factory=list)
    unpicklable: dict[str, str] = Field(default_factory=dict)
    bytes_written: int = 0
    seconds: float = 0.0

    @classmethod
    def from_manifest(
        cls,
        manifest: Manifest,
        *,
        examined: list[str] | None = None,
        bytes_written: int = 0,
        seconds: float = 0.0,
    ) -> CheckpointInfo:
        return cls(
            id=manifest.id,
            label=manifest.label,
            kind=manifest.kind,
            time=manifest.time,
            parent=manifest.parent,
            names=sorted(manifest.entries),
            examined=sorted(examined or []),
            unpicklable=manifest.unpicklable(),
            bytes_written=bytes_written,
            seconds=seconds,
        )


class RestoreReport(BaseModel):
    """What a restore did, name by name, plus a message for people."""

    target: str
    saved_as: str | None = None
    restored: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    not_rolled_back: dict[str, str] = Field(default_factory=dict)
    message: str = ""
