"""Which stored groups a restore or a load needs, and loading them into a fresh dict.

A checkpoint stores names in *groups* (names sharing objects are pickled together; a
``member`` entry points at the name that holds its group).  Loading never touches the
live namespace: values go into a new dict, so a corrupt checkpoint changes nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import CheckpointError, CorruptCheckpointError, UnsafeStoreError
from .objects import ChunkStore
from .pickling import load_group
from .records import Entry


def holder_of(name: str, entry: Entry) -> str:
    """The name whose group holds ``name``'s value."""
    return (entry.alias_of or name) if entry.kind == "member" else name


def groups_to_restore(
    entries: Mapping[str, Entry], current: Mapping[str, Entry], namespace: Mapping[str, Any]
) -> set[str]:
    """Holders of every group whose content differs from ``current`` (or is missing from
    ``namespace``), and of every group whose data points at one of those."""
    holder = {n: holder_of(n, e) for n, e in entries.items()}
    to_load: set[str] = set()
    for name, entry in entries.items():
        if entry.kind == "unpicklable":
            continue
        if name not in namespace or not entry.same_content(current.get(name)):
            to_load.add(holder[name])
    changed = True
    while changed:  # a group pointing at a reloaded name must be reloaded too
        changed = False
        for name, entry in entries.items():
            if entry.kind == "value" and name not in to_load:
                if any(holder.get(r, r) in to_load for r in entry.refs):
                    to_load.add(name)
                    changed = True
    return to_load


def groups_for(
    entries: Mapping[str, Entry], wanted: Iterable[str]
) -> tuple[set[str], dict[str, str]]:
    """Holders of the groups ``wanted`` names need (their own and everything their data
    points at), and why each wanted name that cannot be loaded cannot."""
    problems: dict[str, str] = {}
    pending = []
    for name in wanted:
        entry = entries.get(name)
        if entry is None:
            problems[name] = "not in the checkpoint"
        elif entry.kind == "unpicklable":
            problems[name] = f"could not be stored ({entry.type_name}: {entry.error})"
        else:
            pending.append(name)
    to_load: set[str] = set()
    while pending:
        name = pending.pop()
        entry = entries.get(name)
        if entry is None or entry.kind == "unpicklable":
            continue
        holder = holder_of(name, entry)
        if holder in to_load:
            continue
        to_load.add(holder)
        held = entries.get(holder)
        if held is not None:
            pending.extend(held.refs)
    return to_load, problems


def load_groups(
    entries: Mapping[str, Entry],
    to_load: set[str],
    namespace: dict,
    shown_as: str,
    *,
    chunks: ChunkStore,
    map_buffers: bool = False,
    verify: bool = True,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Load the groups held by ``to_load`` into a fresh dict; names outside it come from
    ``namespace``. Returns the values and, per group that failed, why."""
    holder = {n: holder_of(n, e) for n, e in entries.items()}
    fresh: dict[str, Any] = {}
    done: set[str] = set()
    loading: set[str] = set()
    failed: dict[str, str] = {}

    def resolve(name: str) -> Any:
        entry = entries.get(name)
        if entry is None:
            raise CheckpointError(f"refers to '{name}', which the checkpoint does not have")
        if entry.kind == "unpicklable":
            if name in namespace:
                return namespace[name]
            raise CheckpointError(f"refers to '{name}', which could not be stored")
        h = holder[name]
        if h in to_load:
            load(h)
            if name not in fresh:
                raise CheckpointError(f"refers to '{name}', which could not be restored")
            return fresh[name]
        return namespace[name]

    def load(h: str) -> None:
        if h in done:
            return
        if h in loading:
            raise CorruptCheckpointError(f"circular reference through '{h}'")
        loading.add(h)
        entry = entries[h]
        try:
            if entry.kind == "module":
                fresh[h] = _import(entry.module or h)
            else:
                values = load_group(
                    entry,
                    chunks=chunks,
                    resolve=resolve,
                    namespace=namespace,
                    map_buffers=map_buffers,
                    verify=verify,
                )
                fresh.update(zip(entry.members, values, strict=True))
        except CorruptCheckpointError as exc:
            prefix = f"checkpoint [{shown_as}]: "
            if str(exc).startswith(prefix):
                raise
            raise CorruptCheckpointError(prefix + str(exc)) from exc
        except UnsafeStoreError:
            raise
        except CheckpointError as exc:
            failed[h] = str(exc)
        finally:
            loading.discard(h)
            done.add(h)

    for h in sorted(to_load):
        load(h)
    return fresh, failed


def _import(name: str) -> Any:
    """A module a checkpoint stored by name; a failure is "not rolled back", not fatal."""
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise CheckpointError(f"module {name!r} could not be imported: {exc}") from None
