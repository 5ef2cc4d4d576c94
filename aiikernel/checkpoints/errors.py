"""The checkpoint store's exceptions: one base class, so callers can catch them all.

``CheckpointError`` is what the command layer turns into a short message; the
subclasses let tests and callers tell the causes apart.
"""

from __future__ import annotations


class CheckpointError(Exception):
    """Anything the checkpoint store wants to tell the user; the message is user-facing."""


class UnsafeStoreError(CheckpointError):
    """The store directory is not private to this user; loading it could run someone's code."""


class CheckpointNotFoundError(CheckpointError):
    """No checkpoint has the requested id or fork label."""


class CorruptCheckpointError(CheckpointError):
    """A manifest or a chunk is missing, truncated or fails its hash check."""
