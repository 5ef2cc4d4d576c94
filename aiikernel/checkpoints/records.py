"""JSON-safe records of the store: blob references, manifest entries, manifests and reports.

A manifest is the only file that describes a checkpoint; chunks are opaque bytes
named by their hash.  Records are pydantic models so a damaged or foreign file is
rejected with a clear validation error instead of half-loading.
"""

from __future__ import annotations

import time as _time
from collections.abc import Mapping
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
    #: Type and shape/length as the diff shows them (``DataFrame 1000×5``); see ``summary.py``.
    summary: str = ""

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


def same_entries(a: Mapping[str, Entry], b: Mapping[str, Entry]) -> bool:
    """Whether two checkpoints stored the same namespace (unpicklables count as equal)."""
    if a.keys() != b.keys():
        return False
    return all(a[n].same_content(b[n]) or (a[n].kind == b[n].kind == "unpicklable") for n in a)


CheckpointKind = Literal["turn", "after", "auto", "fork", "manual"]


class ItemRef(BaseModel):
    """One conversation item: ``size`` bytes of JSON at ``offset`` in the chunk ``key``.

    The items a checkpoint adds are packed into one chunk (one write, one fsync); later
    checkpoints point at the items they share instead of writing them again.
    """

    key: str
    offset: int
    size: int
    #: Size of the whole chunk (read and hash-checked as one).
    pack: int
    #: xxh3-128 of the item's JSON: equal items are one item, wherever they were written.
    digest: str


class ConversationRef(BaseModel):
    """The conversation at a checkpoint: each part (``messages``, ``chat``) a list of items.

    ``digest`` covers the model messages only: two checkpoints with the same namespace and
    the same messages are the same state (the chat's display details do not count).
    """

    parts: dict[str, list[ItemRef]] = Field(default_factory=dict)
    digest: str = ""

    def chunk_keys(self) -> set[str]:
        return {item.key for items in self.parts.values() for item in items}


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
    #: The conversation when the checkpoint was taken (None: not recorded, older stores).
    conversation: ConversationRef | None = None
    #: Bytes of new chunks this checkpoint wrote (the size it added to the store).
    added_bytes: int = 0

    def chunk_keys(self) -> set[str]:
        """Every chunk this checkpoint needs (namespace data and conversation)."""
        keys = {k for e in self.entries.values() for k in e.chunk_keys()}
        if self.conversation is not None:
            keys.update(self.conversation.chunk_keys())
        return keys

    def same_state(self, other: Manifest) -> bool:
        """Same namespace and, when both recorded it, the same model messages."""
        if not same_entries(self.entries, other.entries):
            return False
        if self.conversation is None or other.conversation is None:
            return True
        return self.conversation.digest == other.conversation.digest

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
    #: Of ``seconds``: writing the conversation and the manifest durably (fsyncs).
    write_seconds: float = 0.0

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
    #: The target's conversation (parts → items), loaded before anything changed; None when
    #: the checkpoint did not record one.  Not sent to panels (it can be large).
    conversation: dict[str, list[Any]] | None = Field(default=None, exclude=True)
    #: The kernel session the target belongs to, when it is another one (``/resume``).
    session: str | None = None
