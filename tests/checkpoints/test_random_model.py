"""Randomised model test: many small edits, checkpoints and restores against deep copies.

Each step does what a cell could do (rebind, mutate in place, alias, nest, delete)
and records the names a tracker would see.  At every checkpoint a deep copy of the
namespace is the expected state; every restore must reproduce it exactly, values
*and* identity structure (which names share which objects).
"""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest

from aiikernel.checkpoints import CheckpointNotFoundError

NAMES = [f"v{i}" for i in range(8)]


def canonical(ns: dict) -> tuple:
    """A comparable picture of the user names: values plus which objects are shared."""
    ids: dict[int, int] = {}

    def walk(value):
        if isinstance(value, (int, float, str)) or value is None:
            return value
        key = id(value)
        if key in ids:
            return ("ref", ids[key])
        ids[key] = len(ids)
        if isinstance(value, np.ndarray):
            return ("arr", ids[key], tuple(value.tolist()))
        if isinstance(value, list):
            return ("list", ids[key], tuple(walk(v) for v in value))
        if isinstance(value, dict):
            return ("dict", ids[key], tuple((k, walk(v)) for k, v in sorted(value.items())))
        raise TypeError(type(value))

    return tuple((name, walk(ns[name])) for name in sorted(n for n in ns if n in NAMES))


def random_value(rng: random.Random):
    kind = rng.choice(["list", "dict", "arr", "int"])
    if kind == "list":
        return [rng.randint(0, 9) for _ in range(rng.randint(0, 3))]
    if kind == "dict":
        return {f"k{rng.randint(0, 2)}": rng.randint(0, 9)}
    if kind == "arr":
        return np.full(rng.choice([3, 20_000]), float(rng.randint(0, 9)))
    return rng.randint(0, 99)


def step(ns: dict, rng: random.Random) -> set[str]:
    """One random edit; returns the names a static scan of it would report."""
    present = [n for n in NAMES if n in ns]
    name = rng.choice(NAMES)
    op = rng.choice(
        ["rebind", "rebind", "mutate", "mutate", "alias", "nest", "delete", "deep", "inner"]
    )
    if op == "rebind" or not present:
        ns[name] = random_value(rng)
        return {name}
    other = rng.choice(present)
    value = ns[other]
    if op == "mutate":
        if isinstance(value, list):
            value.append(rng.randint(0, 9))
        elif isinstance(value, dict):
            value[f"k{rng.randint(0, 2)}"] = rng.randint(0, 9)
        elif isinstance(value, np.ndarray):
            value[rng.randrange(value.size)] = rng.randint(10, 99)
        return {other}
    if op == "alias":
        ns[name] = value
        return {name, other}
    if op == "nest":
        ns[name] = rng.choice([{"k": value}, [value, 1]])
        return {name, other}
    if op == "inner":  # share an object that has no name of its own
        if isinstance(value, list) and value and isinstance(value[0], (list, dict)):
            ns[name] = {"k": value[0]}
        elif isinstance(value, dict) and isinstance(value.get("k"), (list, dict)):
            ns[name] = [value["k"], 2]
        else:
            ns[name] = [[rng.randint(0, 9)], 3]
        return {name, other}
    if op == "deep":  # mutate something reachable only through a container
        if isinstance(value, dict) and isinstance(value.get("k"), list):
            value["k"].append(7)
        elif isinstance(value, list) and value and isinstance(value[0], list):
            value[0].append(7)
        return {other}
    del ns[other]
    return {other}


@pytest.mark.parametrize("seed", range(1, 13))
def test_random_edits_checkpoints_and_restores(nb, store, seed):
    rng = random.Random(seed)
    expected: dict[str, tuple] = {}
    touched: set[str] = set()
    for i in range(160):
        roll = rng.random()
        if roll < 0.15:
            info = store.checkpoint(nb, label=f"step {i}", touched=touched)
            touched = set()
            expected[info.id] = canonical(copy.deepcopy({n: nb[n] for n in NAMES if n in nb}))
            assert canonical(nb) == expected[info.id]
        elif roll < 0.25 and expected:
            before = canonical(copy.deepcopy({n: nb[n] for n in NAMES if n in nb}))
            if roll < 0.22:
                target = rng.choice(sorted(expected))
                report = store.restore(nb, target, touched=touched)
            else:
                try:
                    report = store.undo(nb, touched=touched)
                except CheckpointNotFoundError:  # nothing older: the namespace is untouched
                    assert canonical(nb) == before
                    continue
            touched = set()
            # the state saved before the restore is a checkpoint too
            expected.setdefault(report.saved_as, before)
            assert canonical(nb) == expected[report.target], (
                f"seed {seed}, step {i}, restore to [{report.target}]: {report.message}"
            )
        else:
            touched |= step(nb, rng)
