"""Clones map the store's chunk files copy-on-write: no copy, shared pages, private writes."""

from __future__ import annotations

import mmap
import threading

import numpy as np
import pandas as pd
import pytest

from aiikernel.checkpoints import CheckpointStore, CorruptCheckpointError

from .conftest import run


def _base(array: np.ndarray):
    while isinstance(getattr(array, "base", None), np.ndarray):
        array = array.base
    base = array.base
    while isinstance(base, memoryview):
        base = base.obj
    return base


def _child(store_dir, name="child"):
    return CheckpointStore(directory=str(store_dir), chunk_size=1024 * 1024, session_name=name)


@pytest.fixture
def parent(store_dir):
    return CheckpointStore(directory=str(store_dir), chunk_size=1024 * 1024, session_name="parent")


def test_adopt_maps_arrays_and_brings_functions_and_frames(nb, parent, store_dir):
    run(
        nb,
        "import numpy as np, pandas as pd\n"
        "big = np.arange(3_000_000, dtype=np.float64)\n"
        "df = pd.DataFrame({'a': np.arange(400_000), 'b': np.ones(400_000)})\n"
        "def double(v):\n    return v * factor\n"
        "factor = 2\n"
        "lock = __import__('threading').Lock()\n",
    )
    ref = parent.checkpoint_for_clone(nb, label="spawn")
    assert ref == "parent/0000"
    assert parent.checkpoint_for_clone(nb, label="again", touched=set()) == ref  # nothing new

    ns: dict = {"__name__": nb["__name__"]}
    report = _child(store_dir).adopt(ns, ref)

    assert isinstance(_base(ns["big"]), mmap.mmap)  # mapped, not read into a copy
    assert np.array_equal(ns["big"], nb["big"])
    pd.testing.assert_frame_equal(ns["df"], nb["df"])
    assert ns["double"](3) == 6
    assert "lock" in report.not_rolled_back and "lock" not in ns
    # copy-on-write: the child's write is private, the stored chunk and the parent unchanged
    ns["big"][0] = -1.0
    again: dict = {"__name__": nb["__name__"]}
    _child(store_dir, "other").adopt(again, ref)
    assert again["big"][0] == 0.0 and nb["big"][0] == 0.0


def test_load_subset_brings_what_the_names_point_at(nb, parent):
    run(nb, "import numpy as np\na = np.ones(300_000)\nd = {'k': a}\nother = 5\n")
    ref = parent.checkpoint_for_clone(nb, label="spawn")
    values, problems = parent.load(ref, ["d", "missing"], namespace={})
    assert set(values) == {"a", "d"} and values["d"]["k"] is values["a"]
    assert problems == {"missing": "not in the checkpoint"}


def test_a_chunk_of_the_wrong_size_is_refused(nb, parent, store_dir):
    run(nb, "import numpy as np\nbig = np.arange(1_000_000, dtype=np.float64)\n")
    ref = parent.checkpoint_for_clone(nb, label="spawn")
    entry = parent.manifest(ref).entries["big"]
    key = entry.buffers[0].chunks[0][0]
    path = parent.chunks.path(key)
    path.chmod(0o600)
    with open(path, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(CorruptCheckpointError, match="wrong size"):
        _child(store_dir).load(ref, ["big"], namespace={})


def test_mapped_buffers_survive_gc_of_their_chunks(nb, parent, store_dir):
    run(nb, "import numpy as np\nbig = np.arange(1_000_000, dtype=np.float64)\n")
    ref = parent.checkpoint_for_clone(nb, label="spawn")
    values, _ = _child(store_dir).load(ref, ["big"], namespace={})
    for _, path in parent.chunks.keys():
        path.unlink()  # the mapping holds the inode: the array stays valid
    assert values["big"][999_999] == 999_999.0
    done = threading.Event()

    def drop():
        values.clear()  # the last array goes: the region is unmapped without error
        done.set()

    drop()
    assert done.is_set()
