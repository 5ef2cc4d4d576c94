"""The conversation stored with a checkpoint: parts of JSON items, packed per checkpoint.

A conversation is a mapping of part names to lists of JSON-able items: ``messages`` (what
the model is sent) and whatever fronts add (the chat panel's turns, ``chat``).  The items a
checkpoint sees for the first time are packed into one content-addressed chunk (a single
write and fsync); every later checkpoint refers to them by chunk, offset and size.  Items are
encoded once per object: a part hands back the same object for an item that did not change
(a finished turn), and :class:`ConversationWriter` remembers where it went while the object
is alive in the conversation.  Items must not be mutated once handed over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import CorruptCheckpointError
from .objects import ChunkStore, _hash
from .records import BlobRef, ConversationRef, ItemRef

#: A conversation as the session hands it to the store: part name → items.
Conversation = Mapping[str, list[Any]]


def _encode(item: Any) -> bytes:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str).encode()


class ConversationWriter:
    """Writes conversations into a chunk store, encoding each unchanged item only once."""

    def __init__(self) -> None:
        #: id(item) → (item kept alive so the id is not reused, where it is stored)
        self._known: dict[int, tuple[Any, ItemRef]] = {}
        #: content digest → where an equal item is stored (a restored item is not rewritten)
        self._by_digest: dict[str, ItemRef] = {}

    def write(self, chunks: ChunkStore, conversation: Conversation) -> ConversationRef:
        pack = bytearray()
        fresh: list[ItemRef] = []  # refs into ``pack``, keyed once it is stored
        seen: dict[int, tuple[Any, ItemRef]] = {}
        parts: dict[str, list[ItemRef]] = {}
        for part, items in conversation.items():
            refs = []
            for item in items:
                known = seen.get(id(item)) or self._known.get(id(item))
                if known is None or known[0] is not item:
                    data = _encode(item)
                    digest = _hash(data)
                    ref = self._by_digest.get(digest)
                    if ref is None:
                        ref = ItemRef(
                            key="", offset=len(pack), size=len(data), pack=0, digest=digest
                        )
                        pack += data
                        fresh.append(ref)
                    known = (item, ref)
                seen[id(item)] = known
                refs.append(known[1])
            parts[str(part)] = refs
        if fresh:
            key = chunks.put_chunk(memoryview(pack))
            for ref in fresh:
                ref.key, ref.pack = key, len(pack)
        # only what the conversation holds now stays remembered
        self._known = seen
        self._by_digest = {ref.digest: ref for _, ref in seen.values()}
        messages = parts.get("messages", [])
        digest = _hash("\n".join(r.digest for r in messages).encode())
        return ConversationRef(parts=parts, digest=digest)


def read_conversation(chunks: ChunkStore, ref: ConversationRef, what: str) -> dict[str, list[Any]]:
    """The conversation ``ref`` names, every chunk hash-checked (a damaged one raises)."""
    packs: dict[str, bytearray] = {}
    out: dict[str, list[Any]] = {}
    for part, refs in ref.parts.items():
        items = []
        for item in refs:
            if item.key not in packs:
                blob = BlobRef(size=item.pack, chunks=[(item.key, item.pack)])
                packs[item.key] = chunks.read(blob, f"the conversation of {what}")
            data = bytes(packs[item.key][item.offset : item.offset + item.size])
            try:
                items.append(json.loads(data))
            except ValueError as exc:
                raise CorruptCheckpointError(
                    f"the conversation of {what} is damaged ({exc})"
                ) from None
        out[part] = items
    return out
