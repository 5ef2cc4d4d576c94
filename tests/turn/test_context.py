import threading
import types

import numpy as np
import pandas as pd

from aiikernel.turn.context import describe, summarize_namespace


class Exploding:
    def __repr__(self):
        raise RuntimeError("no repr for you")


def test_summary_lists_types_shapes_and_skips_private_modules_hidden():
    ns = {
        "df": pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
        "arr": np.ones((2, 3), dtype=np.int32),
        "items": [1, 2, 3],
        "_private": 1,
        "np": np,
        "hidden_one": 5,
        "In": [],
        "f": lambda x, y=2: x,
    }
    text = summarize_namespace(ns, hidden={"hidden_one"})
    assert "- df: pandas.DataFrame shape=(2, 2) columns=[a:int64, b:" in text
    assert "- arr: numpy.ndarray shape=(2, 3) dtype=int32" in text
    assert "- items: list len=3 = [1, 2, 3]" in text
    assert "- f: function = <lambda>(x, y=2)" in text
    for absent in ("_private", "hidden_one", "- np:", "- In:"):
        assert absent not in text
    assert "Imported modules: np" in text


def test_broken_repr_does_not_break_the_summary():
    line = describe("x", Exploding())
    assert line.startswith("- x: tests.Exploding = <Exploding instance at")


def test_budget_keeps_newest_names_and_says_how_many_were_left_out():
    ns = {f"v{i}": "x" * 50 for i in range(200)}
    text = summarize_namespace(ns, budget=1000)
    assert len(text) < 1200
    assert "v199" in text and "- v0:" not in text
    assert "older names not listed" in text


def test_long_values_are_cut():
    line = describe("s", "y" * 10_000)
    assert len(line) < 200


def test_unusual_objects():
    lock = threading.Lock()
    assert "lock" in describe("lock", lock)
    mod = types.ModuleType("m")
    assert "Imported modules: m" in summarize_namespace({"m": mod})
