"""CheckpointStore on plain namespaces: what a restore brings back, and what it must not touch."""

from __future__ import annotations

import os
import stat
import threading
import time

import numpy as np
import pandas as pd
import pytest

from aiikernel.checkpoints import (
    CheckpointError,
    CheckpointNotFoundError,
    CheckpointStore,
    CorruptCheckpointError,
    UnsafeStoreError,
)

from .conftest import run


def test_rebind_mutate_delete_create_then_restore(nb, store):
    run(nb, "import numpy as np\nx = 1\nlst = [1, 2]\narr = np.zeros(100_000)\ngone = 'bye'")
    first = store.checkpoint(nb, label="start")
    run(nb, "x = 2\nlst.append(3)\narr[5] = 7.0\ndel gone\nfresh = {'a': 1}")
    store.checkpoint(nb, label="after", touched={"x", "lst", "arr", "gone", "fresh"})

    report = store.restore(nb, first.id)

    assert nb["x"] == 1
    assert nb["lst"] == [1, 2]
    assert nb["arr"][5] == 0.0
    assert nb["gone"] == "bye"
    assert "fresh" not in nb
    assert report.removed == ["fresh"]
    assert set(report.restored) >= {"x", "lst", "arr", "gone"}
    assert "Restored [0000]" in report.message


def test_dataframe_column_change_is_undone(nb, store):
    nb["df"] = pd.DataFrame(
        {
            "a": np.arange(50_000, dtype=float),
            "s": [f"row{i}" for i in range(50_000)],
            "t": pd.date_range("2024-01-01", periods=50_000, freq="min"),
        }
    )
    store.checkpoint(nb, label="df")
    run(nb, "df['a'] = df['a'] * 2\ndf['new'] = 1")
    store.undo(nb, touched={"df"})
    pd.testing.assert_frame_equal(
        nb["df"],
        pd.DataFrame(
            {
                "a": np.arange(50_000, dtype=float),
                "s": [f"row{i}" for i in range(50_000)],
                "t": pd.date_range("2024-01-01", periods=50_000, freq="min"),
            }
        ),
    )


def test_aliases_survive_restore(nb, store):
    run(nb, "a = [1, 2]\nb = a\nd = {'k': a}\nnested = [d]\nt = {'inner': a}")
    store.checkpoint(nb, label="aliases")
    run(nb, "a = 'rebound'\nb = 'also'\nd = None")
    store.undo(nb, touched={"a", "b", "d"})
    assert nb["a"] is nb["b"]
    assert nb["d"]["k"] is nb["a"]
    assert nb["nested"][0] is nb["d"]
    assert nb["t"]["inner"] is nb["a"]
    nb["a"].append(3)
    assert nb["d"]["k"] == [1, 2, 3]


def test_shared_cycle_between_names(nb, store):
    run(nb, "x = []\ny = [x]\nx.append(y)")
    store.checkpoint(nb, label="cycle")
    run(nb, "x = 0\ny = 0")
    store.undo(nb, touched={"x", "y"})
    assert nb["y"][0] is nb["x"]
    assert nb["x"][0] is nb["y"]


def test_rebinding_a_shared_name_re_examines_the_names_pointing_at_it(nb, store):
    run(nb, "a = [1]\nd = {'k': a}")
    store.checkpoint(nb, label="one")
    run(nb, "a = [2]")  # d still holds the old list; only `a` was touched
    second = store.checkpoint(nb, label="two", touched={"a"})
    assert "d" in second.examined
    run(nb, "a = None\nd = None")
    store.restore(nb, second.id, touched={"a", "d"})
    assert nb["a"] == [2]
    assert nb["d"]["k"] == [1]
    assert nb["d"]["k"] is not nb["a"]


def test_functions_classes_and_lambdas_come_back_as_they_were(nb, store):
    run(
        nb,
        "factor = 3\n"
        "def scale(v):\n    return v * factor\n"
        "class Box:\n    size = 1\n    def area(self):\n        return self.size ** 2\n"
        "class Big(Box):\n    size = 4\n    def area(self):\n        return super().area() + 1\n"
        "box = Big()\n"
        "handlers = [lambda v: v + 100]\n"
        "def counter():\n    n = 0\n    def inc():\n        nonlocal n\n        n += 1\n        return n\n    return inc\n"
        "inc = counter()\ninc()\n",
    )
    first = store.checkpoint(nb, label="defs")
    run(
        nb,
        "def scale(v):\n    return -1\nclass Box:\n    pass\nhandlers = []\ninc()\nfactor = 10",
    )
    store.checkpoint(nb, label="changed", touched={"scale", "Box", "handlers", "inc", "factor"})

    store.restore(nb, first.id)

    assert nb["scale"](2) == 6  # the old definition, reading the live global `factor`
    run(nb, "factor = 5")
    assert nb["scale"](2) == 10
    assert nb["box"].area() == 17
    assert type(nb["box"]) is nb["Big"]
    assert issubclass(nb["Big"], nb["Box"])
    assert nb["handlers"][0](1) == 101
    assert nb["inc"]() == 2  # the closure's counter as it was at the checkpoint
    assert nb["scale"].__globals__ is nb


def test_unpicklables_are_recorded_and_reported(nb, store, tmp_path):
    fh = open(tmp_path / "f.txt", "w")  # noqa: SIM115
    try:
        nb.update(gen=(i for i in range(3)), lock=threading.Lock(), fh=fh, ok=[1], holder=[1])
        info = store.checkpoint(nb, label="mixed")
        assert info.unpicklable == {"fh": "TextIOWrapper", "gen": "generator", "lock": "lock"}
        nb["ok"] = [2]
        report = store.undo(nb, touched={"ok"})
        assert nb["ok"] == [1]
        assert set(report.not_rolled_back) == {"fh", "gen", "lock"}
        assert "Not rolled back" in report.message and "generator" in report.message
        assert nb["lock"] is not None  # left alone, not removed
    finally:
        fh.close()


def test_modules_are_stored_by_name(nb, store):
    run(nb, "import json\nimport os.path as osp")
    store.checkpoint(nb, label="mods")
    run(nb, "del json\nosp = 1")
    store.undo(nb, touched={"json", "osp"})
    import json
    import os.path

    assert nb["json"] is json
    assert nb["osp"] is os.path


def test_ipython_internals_and_hidden_names_are_never_stored_or_removed(nb, store):
    nb.update(In=[""], Out={}, _="last", _i3="x=1", _3=3, _oh={}, exit=object(), mine=1)
    nb["hidden_thing"] = 5
    store.checkpoint(nb, label="one", hidden={"hidden_thing"})
    entries = store._manifest(store.head).entries
    assert set(entries) == {"mine"}
    nb["later"] = 1
    nb["_4"] = 4
    store.undo(nb, touched={"later"}, hidden={"hidden_thing"})
    assert "later" not in nb
    for name in ("In", "Out", "_", "_i3", "_3", "_4", "_oh", "exit", "hidden_thing", "__name__"):
        assert name in nb


def test_untouched_big_data_is_not_written_again(nb, store):
    nb["big"] = np.random.default_rng(0).random(1_000_000)
    nb["small"] = 1
    first = store.checkpoint(nb, label="one")
    assert first.bytes_written >= nb["big"].nbytes
    nb["small"] = 2
    second = store.checkpoint(nb, label="two", touched={"small"})
    assert second.examined == ["small"]
    assert second.bytes_written == 0
    nb["big"][0] = -1.0  # touched: re-hashed, but only the changed chunk is written
    third = store.checkpoint(nb, label="three", touched={"big"})
    assert 0 < third.bytes_written <= store.chunk_size


def test_restore_loads_only_what_differs(nb, store):
    nb["big"] = np.arange(500_000)
    nb["x"] = 1
    first = store.checkpoint(nb, label="one")
    big = nb["big"]
    nb["x"] = 2
    report = store.undo(nb, touched={"x"})
    assert report.restored == ["x"]
    assert nb["big"] is big  # untouched: not reloaded
    assert report.target == first.id


def test_undo_walks_back_and_is_itself_undoable(nb, store):
    nb["x"] = 0
    store.checkpoint(nb, label="turn 1")
    nb["x"] = 1
    store.checkpoint(nb, label="turn 2", touched={"x"})
    nb["x"] = 2

    report = store.undo(nb, touched={"x"})  # back to before turn 2
    assert nb["x"] == 1
    saved = report.saved_as
    report = store.undo(nb, touched=set())  # nothing changed since: one turn further
    assert nb["x"] == 0
    store.restore(nb, saved, touched=set())  # redo
    assert nb["x"] == 2
    with pytest.raises(CheckpointNotFoundError, match="nothing to undo"):
        store.restore(nb, "0000", touched=set())
        store.undo(nb, touched=set())


def test_fork_and_restore_across_branches(nb, store):
    nb["path"] = "trunk"
    store.checkpoint(nb, label="base")
    nb["path"] = "a"
    store.fork("branch a", nb, touched={"path"})
    nb["path"] = "a2"
    store.checkpoint(nb, label="more a", touched={"path"})
    store.restore(nb, "0000", touched={"path"})
    nb["path"] = "b"
    store.checkpoint(nb, label="on b", touched={"path"})

    store.restore(nb, "branch a", touched=set())
    assert nb["path"] == "a"
    text = store.render_tree()
    assert "⑂ branch a" in text
    assert "fork: branch a" in text
    with pytest.raises(CheckpointError, match="already exists"):
        store.fork("branch a", nb)


def test_tree_drawing(nb, store, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    nb["x"] = 0
    store.checkpoint(nb, label="analyze the data")
    nb["x"] = 1
    store.checkpoint(nb, label="make a bar chart", touched={"x"})
    store.restore(nb, "0000", touched={"x"})
    store.checkpoint(nb, label="try a scatter plot instead", touched=set())
    lines = store.render_tree().splitlines()
    assert lines[0] == "Checkpoint tree:"
    assert lines[1].startswith("└── [0000] ○ pre: analyze the data  (")
    assert lines[2].startswith("    ├── [0001] ○ pre: make a bar chart")
    assert lines[3].startswith("    └── [0002] ● pre: try a scatter plot instead")


def test_bad_ids_and_empty_store_give_clear_errors(nb, store):
    assert "empty" in store.render_tree()
    with pytest.raises(CheckpointNotFoundError, match="no checkpoints yet"):
        store.restore(nb, "0001")
    with pytest.raises(CheckpointNotFoundError, match="nothing to undo"):
        store.undo(nb)
    nb["x"] = 1
    store.checkpoint(nb, label="one")
    with pytest.raises(CheckpointNotFoundError, match=r"\[0042\] does not exist"):
        store.restore(nb, "42")
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint called 'nope'"):
        store.restore(nb, "nope")
    assert store.resolve_id("[0000]") == "0000"


def test_store_is_private_and_gitignored(nb, store, store_dir):
    nb["x"] = 1
    store.checkpoint(nb, label="one")
    assert stat.S_IMODE(os.stat(store_dir).st_mode) == 0o700
    assert (store_dir / ".gitignore").read_text() == "*\n"


def test_group_writable_store_is_refused(nb, store_dir):
    store_dir.mkdir(mode=0o700)
    os.chmod(store_dir, 0o770)
    store = CheckpointStore(directory=str(store_dir))
    nb["x"] = 1
    with pytest.raises(UnsafeStoreError, match="writable by group or others"):
        store.checkpoint(nb, label="one")


def test_store_of_another_user_is_refused(nb, tmp_path, monkeypatch):
    directory = tmp_path / "someone_elses"
    directory.mkdir(mode=0o700)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(directory).st_uid + 1)
    store = CheckpointStore(directory=str(directory))
    with pytest.raises(UnsafeStoreError, match="another user"):
        store.render_tree()


def test_symlinked_store_is_refused(nb, tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    store = CheckpointStore(directory=str(link))
    nb["x"] = 1
    with pytest.raises(UnsafeStoreError, match="not a plain directory"):
        store.checkpoint(nb, label="one")


def _chunk_files(store_dir):
    return [p for p in (store_dir / "objects").rglob("*") if p.is_file()]


def test_corrupt_chunk_gives_clear_error_and_other_checkpoints_restore(nb, store, store_dir):
    nb["a"] = np.full(200_000, 1.0)
    store.checkpoint(nb, label="ones")
    before = set(_chunk_files(store_dir))
    nb["a"] = np.full(200_000, 2.0)
    store.checkpoint(nb, label="twos", touched={"a"})
    twos_chunks = set(_chunk_files(store_dir)) - before
    victim = sorted(twos_chunks)[0]
    data = bytearray(victim.read_bytes())
    data[10] ^= 0xFF
    victim.write_bytes(bytes(data))
    nb["a"] = "live"

    with pytest.raises(CorruptCheckpointError, match="corrupt"):
        store.restore(nb, "0001", touched={"a"})
    assert nb["a"] == "live"  # nothing half-applied
    store.restore(nb, "0000", touched=set())
    assert (nb["a"] == 1.0).all()


def test_missing_chunk_and_missing_manifest(nb, store, store_dir):
    nb["a"] = np.full(200_000, 1.0)
    store.checkpoint(nb, label="ones")
    nb["a"] = np.full(200_000, 3.0)
    store.checkpoint(nb, label="threes", touched={"a"})
    nb["b"] = 1
    store.checkpoint(nb, label="b", touched={"b"})
    (store_dir / "sessions" / "test" / "checkpoints" / "0001.json").unlink()

    reopened = CheckpointStore(directory=str(store_dir), session_name="test")
    with pytest.raises(CheckpointNotFoundError, match=r"\[0001\] does not exist"):
        reopened.restore(nb, "0001")
    assert "[0002]" in reopened.render_tree()
    reopened.restore(nb, "0000", touched=set())
    assert (nb["a"] == 1.0).all()
    assert "b" not in nb

    for path in _chunk_files(store_dir):
        path.unlink()
    with pytest.raises(CorruptCheckpointError, match="missing"):
        reopened.restore(nb, "0002", touched=set())


def test_damaged_manifest_is_a_clear_error(nb, store, store_dir):
    nb["x"] = 1
    store.checkpoint(nb, label="one")
    nb["x"] = 2
    store.checkpoint(nb, label="two", touched={"x"})
    (store_dir / "sessions" / "test" / "checkpoints" / "0000.json").write_text("{not json")
    reopened = CheckpointStore(directory=str(store_dir), session_name="test")
    with pytest.raises(CorruptCheckpointError, match=r"\[0000\] is damaged"):
        reopened.restore(nb, "0000")
    assert "[0001]" in reopened.render_tree()


def test_head_pointing_at_a_lost_manifest_falls_back_to_the_newest(nb, store, store_dir):
    nb["x"] = 1
    store.checkpoint(nb, label="one")
    (store_dir / "sessions" / "test" / "HEAD").write_text("0009\n")
    reopened = CheckpointStore(directory=str(store_dir), session_name="test")
    assert reopened.head == "0000"


def test_gc_removes_unreferenced_chunks_and_temp_files(nb, store, store_dir):
    nb["a"] = np.arange(300_000)
    store.checkpoint(nb, label="one")
    (store_dir / "tmp" / "leftover.tmp").write_bytes(b"x")
    orphan = store_dir / "objects" / "ff" / ("f" * 30)
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"orphan")
    result = store.gc()
    assert result["removed_chunks"] == 1
    assert not orphan.exists()
    assert not any((store_dir / "tmp").iterdir())
    nb["a"] = None
    store.undo(nb, touched={"a"})
    assert (nb["a"] == np.arange(300_000)).all()


def test_size_cap_prunes_oldest_but_keeps_current(nb, store_dir):
    store = CheckpointStore(
        directory=str(store_dir),
        chunk_size=64 * 1024,
        session_name="test",
        max_store_bytes=3_000_000,
    )
    rng = np.random.default_rng(1)
    for i in range(4):
        nb["a"] = rng.random(250_000)  # 2 MB each, no chunk in common
        store.checkpoint(nb, label=f"turn {i}", touched={"a"})
    last = nb["a"].copy()
    tree = store.render_tree()
    assert "(pruned)" in tree
    assert store.status()["chunk_bytes"] <= 3_000_000
    with pytest.raises(CheckpointError, match="pruned"):
        store.restore(nb, "0000")
    nb["a"] = None
    store.undo(nb, touched={"a"})
    assert (nb["a"] == last).all()


def test_full_pass_catches_changes_the_tracker_missed(nb, store_dir):
    store = CheckpointStore(directory=str(store_dir), session_name="test", full_pass=True)
    nb["x"] = [1]
    store.checkpoint(nb, label="one")
    nb["x"].append(2)  # behind the tracker's back
    info = store.checkpoint(nb, label="two", touched=set())
    assert "x" in info.examined
    store.restore(nb, "0000", touched=set())
    assert nb["x"] == [1]


def test_readonly_arrays_stay_readonly(nb, store):
    arr = np.arange(100_000)
    arr.flags.writeable = False
    nb["arr"] = arr
    nb["f"] = np.asfortranarray(np.arange(200_000, dtype=float).reshape(400, 500))
    store.checkpoint(nb, label="one")
    nb["arr"] = nb["f"] = None
    store.undo(nb, touched={"arr", "f"})
    assert not nb["arr"].flags.writeable
    assert nb["f"].flags.f_contiguous
    assert (nb["f"] == np.arange(200_000, dtype=float).reshape(400, 500)).all()


def test_store_opens_lazily(store_dir):
    store = CheckpointStore(directory=str(store_dir))
    assert not store_dir.exists()
    assert store.head is None
    assert store.status()["exists"] is False
    assert not store_dir.exists()


def test_sharing_through_an_unnamed_object_survives(nb, store):
    run(nb, "x = [[9]]\ny = {'k': x[0]}\nz = [x[0], 'other']")
    store.checkpoint(nb, label="shared")
    entries = store._manifest(store.head).entries
    assert sorted(entries["x"].members) == ["x", "y", "z"]  # pickled together
    run(nb, "x = y = z = None")
    store.undo(nb, touched={"x", "y", "z"})
    assert nb["y"]["k"] is nb["x"][0] is nb["z"][0]


def test_independent_objects_are_not_grouped(nb, store):
    run(
        nb,
        "import numpy as np, pandas as pd\n"
        "df1 = pd.DataFrame({'a': np.arange(10), 's': ['x'] * 10})\n"
        "df2 = pd.DataFrame({'a': np.arange(10.0)})\n"
        "s1 = df1['a'] + 1\nser = pd.Series([1, 2], dtype='category')\n"
        "class O:\n    default = [1]\n    def __init__(self):\n        self.items = [1]\n"
        "o1 = O()\no2 = O()\nl1 = []\nl2 = []",
    )
    store.checkpoint(nb, label="independent")
    entries = store._manifest(store.head).entries
    assert all(len(e.members) == 1 for e in entries.values() if e.kind == "value")


def test_a_name_bound_to_the_namespace_stays_the_namespace(nb, store):
    run(nb, "g = globals()\nx = 1")
    store.checkpoint(nb, label="globals")
    run(nb, "g = None\nx = 2")
    store.undo(nb, touched={"g", "x"})
    assert nb["g"] is nb
    assert nb["x"] == 1


def test_gc_drops_idle_sessions_of_other_kernels(nb, store_dir):
    old = CheckpointStore(directory=str(store_dir), session_name="old-kernel")
    nb["a"] = np.random.default_rng(5).random(100_000)
    old.checkpoint(nb, label="long ago")
    stale = time.time() - 30 * 86400
    for path in (store_dir / "sessions" / "old-kernel").rglob("*"):
        os.utime(path, (stale, stale))
    current = CheckpointStore(directory=str(store_dir), session_name="now")
    nb["b"] = 1
    current.checkpoint(nb, label="today", touched=None)
    result = current.gc()
    assert result["dropped_sessions"] == 1
    assert not (store_dir / "sessions" / "old-kernel").exists()
    assert result["removed_chunks"] == 0  # `a` is still needed by the current tree
    nb["a"] = None
    current.undo(nb, touched={"a"})
    assert nb["a"][0] == np.random.default_rng(5).random(100_000)[0]


def test_string_columns_and_object_arrays_round_trip(nb, store):
    with pd.option_context("mode.string_storage", "python"):
        names = pd.array([f"name-{i}" if i % 11 else None for i in range(20_000)], dtype="string")
    nb["df"] = pd.DataFrame({"name": names, "n": np.arange(20_000)})
    nb["texts"] = np.array(["é\ud800x"] * 5000 + [None, float("nan"), "last"], dtype=object)
    nb["objs"] = np.array(["a"] * 5000 + [[1, 2]], dtype=object)  # not only strings
    expected = (nb["df"].copy(), nb["texts"].copy(), nb["objs"].copy())
    store.checkpoint(nb, label="strings")
    nb["df"] = nb["texts"] = nb["objs"] = None
    store.undo(nb, touched={"df", "texts", "objs"})
    pd.testing.assert_frame_equal(nb["df"], expected[0])
    assert nb["texts"][:5000].tolist() == expected[1][:5000].tolist()
    assert nb["texts"][5000] is None and np.isnan(nb["texts"][5001]) and nb["texts"][-1] == "last"
    assert nb["objs"][-1] == [1, 2]


def test_head_log_ignores_a_torn_last_line_and_stays_small(nb, store, store_dir):
    for i in range(3):
        nb["x"] = i
        store.checkpoint(nb, label=f"t{i}", touched={"x"})
    head = store_dir / "sessions" / "test" / "HEAD"
    assert head.read_text().splitlines()[-1] == "0002"
    head.write_text("0000\n0001\n00")  # a write cut short by a power loss
    assert CheckpointStore(directory=str(store_dir), session_name="test").head == "0001"
    for i in range(1200):  # every move appends a line; the log is compacted now and then
        store.restore(nb, f"{i % 2:04d}", touched=set())
    assert head.stat().st_size <= 4096 + 8
    assert CheckpointStore(directory=str(store_dir), session_name="test").head == store.head


def test_dill_fallback_keeps_arrays_out_of_band(nb, store):
    run(nb, "def f(v):\n    return v + 1\n")
    big = np.arange(200_000, dtype=float)
    nb["mixed"] = {"code": nb["f"].__code__, "arr": big}  # stdlib pickle refuses code objects
    store.checkpoint(nb, label="dill")
    entry = store._manifest(store.head).entries["mixed"]
    assert entry.codec == "dill"
    assert sum(b.size for b in entry.buffers) >= big.nbytes
    assert entry.stream.size < 10_000  # the array is not in the pickle stream
    nb["mixed"] = None
    store.undo(nb, touched={"mixed"})
    assert (nb["mixed"]["arr"] == big).all()
    assert nb["mixed"]["code"].co_name == "f"


def test_restore_from_an_earlier_kernel_session(nb, store_dir):
    before = CheckpointStore(directory=str(store_dir), session_name="before-restart")
    nb["model"] = {"weights": np.arange(100_000)}
    nb["step"] = 41
    before.checkpoint(nb, label="train")

    fresh = {"__name__": nb["__name__"], "leftover": 1}
    after = CheckpointStore(directory=str(store_dir), session_name="after-restart")
    listed = {s["session"]: s for s in after.sessions()}
    assert listed["before-restart"]["newest"] == "0000"
    report = after.restore(fresh, "before-restart/0000")
    assert fresh["step"] == 41 and (fresh["model"]["weights"] == np.arange(100_000)).all()
    assert "leftover" not in fresh
    assert "Restored [before-restart/0000]" in report.message
    assert after.head is not None and after._manifest(after.head).session == "after-restart"
    assert "from [before-restart/0000]" in after.render_tree()
    fresh["step"] = 0
    after.undo(fresh, touched={"step"})  # the imported state is a normal checkpoint now
    assert fresh["step"] == 41
    for bad in ("nobody/0000", "before-restart/0042", "../x/0000"):
        with pytest.raises(CheckpointNotFoundError):
            after.restore(fresh, bad)


def test_modules_inside_values(nb, store):
    import json

    nb["tools"] = {"codec": json, "n": 1}
    store.checkpoint(nb, label="modules inside")
    entry = store._manifest(store.head).entries["tools"]
    assert entry.codec == "pickle"  # no dill fallback needed
    nb["tools"] = None
    store.undo(nb, touched={"tools"})
    assert nb["tools"]["codec"] is json


def test_default_session_name_carries_the_notebook_name(store_dir, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/work/sales report.ipynb")
    name = CheckpointStore(directory=str(store_dir)).session_name
    assert name.startswith("sales-report-") and name.endswith(f"-{os.getpid()}")
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert CheckpointStore(directory=str(store_dir)).session_name.endswith(f"-{os.getpid()}")


def test_mutation_through_a_container_is_caught(nb, store):
    run(nb, "import numpy as np\na = [1]\nd = {'k': a}\nbig = np.zeros(100_000)")
    run(nb, "holder = {'big': big, 'a': a}")
    store.checkpoint(nb, label="before")
    run(nb, "d['k'].append(2)")  # a static scan sees only `d`
    info = store.checkpoint(nb, label="after", touched={"d"})
    assert "a" in info.examined
    assert "big" not in info.examined  # `holder` points at `a`, but nothing ran through it
    nb["a"].append(3)
    store.restore(nb, "0000", touched={"a"})
    assert nb["a"] == [1] and nb["d"]["k"] is nb["a"] and nb["holder"]["a"] is nb["a"]


def test_mutation_through_an_alias_of_a_container_is_caught(nb, store):
    run(nb, "a = [1]\nb = {'k': a}\nc = b")  # b and c are one group, stored under b
    store.checkpoint(nb, label="before")
    holder = store._manifest(store.head).entries
    assert holder["c"].kind == "member" or holder["b"].kind == "member"
    run(nb, "c['k'].append(2)")
    info = store.checkpoint(nb, label="after", touched={"c"})
    assert "a" in info.examined
    store.restore(nb, "0000", touched=set())
    assert nb["a"] == [1] and nb["c"]["k"] is nb["a"] and nb["b"] is nb["c"]


@pytest.mark.parametrize("with_numpy", [True, False])
def test_shared_groups_finds_objects_met_by_two_groups(monkeypatch, with_numpy):
    import sys

    from aiikernel.checkpoints.grouping import shared_groups

    if not with_numpy:
        monkeypatch.setitem(sys.modules, "numpy", None)
    inner, alone = [1], [2]
    tracked = [
        (frozenset({"a"}), [inner, [3]]),
        (frozenset({"b"}), [alone, alone]),
        (frozenset({"c", "d"}), [{}, inner]),
    ]
    assert shared_groups(tracked) == [{"a", "c", "d"}]
    assert shared_groups(tracked[:1]) == []


def test_a_function_from_another_python_is_reported_not_fatal(nb, store, monkeypatch):
    from aiikernel.checkpoints import reducers

    run(nb, "def f():\n    return 1\nx = [1]")
    store.checkpoint(nb, label="defs")
    run(nb, "def f():\n    return 2\nx = [2]")
    real_loads = reducers.marshal.loads

    def foreign_loads(data):  # what marshal says about another version's code
        raise ValueError("bad marshal data (unknown type code)")

    monkeypatch.setattr(reducers.marshal, "loads", foreign_loads)
    report = store.restore(nb, "0000", touched={"f", "x"})
    monkeypatch.setattr(reducers.marshal, "loads", real_loads)
    assert nb["x"] == [1]  # everything else came back
    assert "another Python version" in report.not_rolled_back["f"]
    assert nb["f"]() == 2  # left as it was


def test_long_chains_fold_in_the_tree(nb, store):
    for i in range(40):
        nb["x"] = i
        store.checkpoint(nb, label=f"turn {i}", touched={"x"})
    store.restore(nb, "0002", touched=set())
    nb["x"] = -1
    store.checkpoint(nb, label="other way", touched={"x"})
    folded = store.render_tree(recent=5).splitlines()
    assert len(folded) < 15
    assert any("earlier checkpoints (/tree all)" in line for line in folded)
    text = "\n".join(folded)
    for must in ("[0000]", "[0002]", "[0039]", "[0040] ● pre: other way"):
        assert must in text
    full = store.render_tree().splitlines()
    assert len(full) == 1 + 41


def test_a_module_that_no_longer_imports_is_reported(nb, store):
    import sys
    import types as _types

    fake = _types.ModuleType("aiik_vanishing_module")
    sys.modules["aiik_vanishing_module"] = fake
    nb["vanishing"] = fake
    nb["x"] = 1
    store.checkpoint(nb, label="with module")
    del sys.modules["aiik_vanishing_module"]
    del nb["vanishing"]
    nb["x"] = 2
    report = store.undo(nb, touched={"vanishing", "x"})
    assert nb["x"] == 1
    assert "could not be imported" in report.not_rolled_back["vanishing"]


_UMASK_SCRIPT = r"""
import os, sys
os.umask(int(sys.argv[2], 8))
from aiikernel.checkpoints import CheckpointStore
ns = {"__name__": "__main__"}
first = CheckpointStore(directory=sys.argv[1], session_name="one", chunk_size=4096,
                        inline_limit=16)
ns["x"] = list(range(5000))
first.checkpoint(ns, label="a")
first.fork("f" + str(os.getpid()), ns)
second = CheckpointStore(directory=sys.argv[1], session_name="two")
ns["x"] = None
second.restore(ns, "one/0000")
assert ns["x"] == list(range(5000)), ns["x"]
print("ok")
"""


@pytest.mark.parametrize("umask", ["000", "002", "022"])
def test_every_level_is_private_whatever_the_umask(tmp_path, umask):
    import subprocess
    import sys

    store_dir = tmp_path / "deep" / ".aiipython_checkpoints"
    for _ in range(2):  # the second run opens the store the first one made
        done = subprocess.run(
            [sys.executable, "-c", _UMASK_SCRIPT, str(store_dir), umask],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    paths = [store_dir, *store_dir.rglob("*")]
    assert any(p.parent.name == "objects" for p in paths)  # a chunk shard exists
    for path in paths:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def _two_sessions(nb, store_dir):
    mine = CheckpointStore(directory=str(store_dir), session_name="mine", chunk_size=4096)
    other = CheckpointStore(
        directory=str(store_dir), session_name="other", chunk_size=4096, inline_limit=16
    )
    nb["x"] = np.arange(10_000)
    other.checkpoint(nb, label="theirs")
    nb["x"] = 0
    mine.checkpoint(nb, label="mine")
    return mine


@pytest.mark.parametrize(
    "tamper",
    [
        "other_session_dir_0777",
        "other_checkpoints_dir_0777",
        "manifest_0666",
        "manifest_symlink",
        "shard_0777",
        "chunk_0666",
        "chunk_symlink",
        "sessions_0777",
    ],
)
def test_nothing_writable_by_others_is_unpickled(nb, store_dir, tamper):
    mine = _two_sessions(nb, store_dir)
    session = store_dir / "sessions" / "other"
    manifest = session / "checkpoints" / "0000.json"
    chunk = sorted(p for p in (store_dir / "objects").rglob("*") if p.is_file())[0]
    if tamper == "other_session_dir_0777":
        os.chmod(session, 0o777)
    elif tamper == "other_checkpoints_dir_0777":
        os.chmod(session / "checkpoints", 0o777)
    elif tamper == "manifest_0666":
        os.chmod(manifest, 0o666)
    elif tamper == "manifest_symlink":
        real = store_dir.parent / "planted.json"
        real.write_bytes(manifest.read_bytes())
        manifest.unlink()
        manifest.symlink_to(real)
    elif tamper == "shard_0777":
        for shard in (store_dir / "objects").iterdir():
            os.chmod(shard, 0o777)
    elif tamper == "chunk_0666":
        for path in (store_dir / "objects").rglob("*"):
            if path.is_file():
                os.chmod(path, 0o666)
    elif tamper == "chunk_symlink":
        real = store_dir.parent / "planted.chunk"
        real.write_bytes(chunk.read_bytes())
        chunk.unlink()
        chunk.symlink_to(real)
    elif tamper == "sessions_0777":
        os.chmod(store_dir / "sessions", 0o777)
    with pytest.raises(UnsafeStoreError):
        mine.restore(nb, "other/0000")
    assert nb["x"] == 0


def test_a_session_directory_made_writable_after_open_is_refused(nb, store, store_dir):
    nb["x"] = 1
    store.checkpoint(nb, label="one")
    nb["x"] = 2
    store.checkpoint(nb, label="two", touched={"x"})
    store._manifests.clear()
    os.chmod(store_dir / "sessions" / "test" / "checkpoints", 0o777)
    with pytest.raises(UnsafeStoreError, match="writable by group or others"):
        store.restore(nb, "0000")
