"""Which names a checkpoint pickles again, and which are pickled together.

Pure functions over a namespace and the previous checkpoint's entries; the store
calls them and writes the result.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import CheckpointError
from .names import is_shareable, namespace_module
from .objects import ChunkStore
from .pickling import NS_MARK, dump_group, is_module
from .records import Entry


def names_to_examine(
    names: list[str],
    touched: set[str] | None,
    base: Mapping[str, Entry],
    also: Iterable[str] = (),
) -> set[str]:
    """The names a checkpoint must pickle again; the others keep their stored entry.

    Touched names and what they point at (:func:`reached_names`), new names,
    modules, whole stored groups of any of them, and every name whose stored data
    points at one of them (or at a deleted name).
    """
    present = set(names)
    if touched is None or not base:
        return present
    reach = reached_names(touched, base)
    examine = {n for n in reach if n in present} | (set(also) & present)
    examine |= present - set(base)  # new names
    examine |= {n for n, e in base.items() if e.kind == "module"} & present
    # whole stored groups, and everything that points at a re-examined name
    changed = True
    while changed:
        changed = False
        for name, entry in base.items():
            if name not in present or name in examine:
                continue
            holder = entry.alias_of if entry.kind == "member" else name
            group = base[holder].members if holder in base else [holder]
            if any(m in examine or m not in present for m in (holder, *group)) or any(
                r in examine or r not in present for r in entry.refs
            ):
                examine.add(name)
                changed = True
    return examine


def reached_names(touched: set[str], base: Mapping[str, Entry]) -> set[str]:
    """``touched`` plus every name their stored data point at, transitively.

    ``d['k'].append(1)`` touches only ``d`` but mutates ``a`` when ``d['k'] is a``;
    a name deleted after such a use counts too.  Names examined only because they
    point *at* a touched name are not followed: nothing ran through them.
    """
    reach = set(touched)
    pending = list(reach)
    while pending:
        entry = base.get(pending.pop())
        if entry is not None and entry.kind == "member":  # the group's data is the holder's
            entry = base.get(entry.alias_of or "")
        for ref in entry.refs if entry is not None else ():
            if ref not in reach:
                reach.add(ref)
                pending.append(ref)
    return reach


def store_names(
    namespace: dict,
    names: list[str],
    examine: set[str],
    base: Mapping[str, Entry],
    chunks: ChunkStore,
    touched: set[str] | None = None,
) -> dict[str, Entry]:
    """Entries for every name: ``examine`` pickled again (grouped), the rest from ``base``.

    Names bound to the same object, names whose pickles met the same mutable object,
    and names whose data point at each other in a cycle are pickled together; the
    loop re-pickles merged groups until no group shares with another.
    """
    module = namespace_module(namespace)
    refs: dict[int, str] = {}
    for name in names:
        value = namespace[name]
        if is_shareable(value, module):
            refs.setdefault(id(value), name)
    refs[id(namespace)] = NS_MARK
    reach = set(names) if touched is None else reached_names(touched, base)
    forced: list[set[str]] = []
    cache: dict[frozenset[str], tuple[Entry, list[Any] | None]] = {}
    entries: dict[str, Entry] = {}
    for _ in range(2 * len(names) + 2):
        while True:  # whatever joins ``examine`` drags its stored group and dependents along
            size = len(examine)
            examine |= names_to_examine(names, reach, base, also=examine)
            groups = _identity_groups(namespace, examine, refs, forced)
            if len(examine) == size:
                break
        entries = {n: e for n, e in base.items() if n in namespace and n not in examine}
        merges: list[set[str]] = []
        pointed: set[str] = set()
        # Sharing between groups only matters when there are several of them.
        track = len(groups) > 1
        tracked: list[tuple[frozenset[str], list[Any]]] = []
        for members in groups:
            key = frozenset(members)
            if key not in cache or (track and cache[key][1] is None):
                entry, mutables = _store_group(namespace, members, refs, module, chunks, track)
                cache[key] = (entry, mutables if track else None)
            entry, mutables = cache[key]
            entries.update(split_group(entry, members))
            if track and mutables:
                tracked.append((key, mutables))
            # A name a touched one points at (now) may have been mutated through it.
            if reach.intersection(members):
                pointed.update(r for r in entry.refs if r in namespace and r not in examine)
        merges.extend(shared_groups(tracked))
        merges.extend(cycles(entries))
        if not merges and not pointed:
            return entries
        examine |= pointed
        reach |= pointed
        for merge in merges:
            examine |= merge
            forced.append(merge)
    raise CheckpointError("could not separate the namespace into storable groups")


def _identity_groups(
    namespace: dict,
    examine: set[str],
    refs: Mapping[int, str],
    forced: list[set[str]],
) -> list[list[str]]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    pending = list(examine)
    while pending:
        name = pending.pop()
        find(name)
        if is_module(namespace[name]):
            continue
        canonical = refs.get(id(namespace[name]))
        if canonical and canonical != name and canonical != NS_MARK:
            if canonical not in examine:
                examine.add(canonical)
                pending.append(canonical)
            union(name, canonical)
    for group in forced:
        members = sorted(group)
        for other in members[1:]:
            union(members[0], other)
    groups: dict[str, list[str]] = {}
    for name in sorted(examine):
        groups.setdefault(find(name), []).append(name)
    return list(groups.values())


def _store_group(
    namespace: dict,
    members: list[str],
    refs: Mapping[int, str],
    module: str,
    chunks: ChunkStore,
    track: bool,
) -> tuple[Entry, list[Any]]:
    if len(members) == 1 and is_module(namespace[members[0]]):
        entry = Entry(kind="module", module=namespace[members[0]].__name__, members=members)
        return entry, []
    return dump_group(
        members,
        [namespace[m] for m in members],
        refs=refs,
        module=module,
        chunks=chunks,
        track=track,
    )


def shared_groups(tracked: list[tuple[frozenset[str], list[Any]]]) -> list[set[str]]:
    """Groups whose pickles met the same mutable object, as sets of names to merge.

    With numpy loaded the ids are compared sorted in arrays (about 30 bytes per object
    met, instead of a dict entry each); the objects are alive in ``tracked``, so no id
    has been reused.
    """
    if len(tracked) < 2:
        return []
    numpy = sys.modules.get("numpy")
    if numpy is None:
        owner: dict[int, int] = {}
        pairs: set[tuple[int, int]] = set()
        for index, (_, objects) in enumerate(tracked):
            for obj in objects:
                other = owner.setdefault(id(obj), index)
                if other != index:
                    pairs.add((other, index))
    else:
        ids = numpy.concatenate(
            [
                numpy.fromiter(map(id, objs), dtype=numpy.uint64, count=len(objs))
                for _, objs in tracked
            ]
        )
        labels = numpy.concatenate(
            [numpy.full(len(objs), i, dtype=numpy.int32) for i, (_, objs) in enumerate(tracked)]
        )
        order = numpy.argsort(ids, kind="stable")
        ids, labels = ids[order], labels[order]
        same = (ids[1:] == ids[:-1]) & (labels[1:] != labels[:-1])
        pairs = set(zip(labels[:-1][same].tolist(), labels[1:][same].tolist(), strict=True))
    return [set(tracked[a][0] | tracked[b][0]) for a, b in pairs]


def split_group(entry: Entry, members: list[str]) -> dict[str, Entry]:
    """The value entry under its first member, ``member`` entries for the others."""
    holder = members[0]
    out = {holder: entry}
    for other in members[1:]:
        if entry.kind == "unpicklable":
            out[other] = entry
        else:
            out[other] = Entry(kind="member", alias_of=holder, digest=entry.digest)
    return out


def cycles(entries: Mapping[str, Entry]) -> list[set[str]]:
    """Groups of names whose stored data point at each other in a circle (Tarjan, iterative)."""
    holder = {n: (e.alias_of or n) if e.kind == "member" else n for n, e in entries.items()}
    graph: dict[str, set[str]] = {}
    for name, entry in entries.items():
        h = holder[name]
        graph.setdefault(h, set())
        for r in entry.refs:
            if r in holder and holder[r] != h:
                graph[h].add(holder[r])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[set[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    item = stack.pop()
                    on_stack.discard(item)
                    component.add(item)
                    if item == node:
                        break
                if len(component) > 1:
                    members = {n for n, h in holder.items() if h in component}
                    result.append(members)
    return result
