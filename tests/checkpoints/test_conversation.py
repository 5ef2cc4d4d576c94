"""The conversation a checkpoint records: stored once per item, kept by gc, checked on load."""

from __future__ import annotations

import pytest

from aiikernel.checkpoints import CorruptCheckpointError
from aiikernel.checkpoints.summary import value_summary

from .conftest import run


def conversation(n: int) -> dict[str, list]:
    messages = [{"role": "user", "content": f"prompt {i}"} for i in range(n)]
    return {"messages": messages, "chat": [{"id": i, "prompt": f"prompt {i}"} for i in range(n)]}


def test_restore_hands_back_the_recorded_conversation(store, nb):
    run(nb, "x = 1")
    first = store.checkpoint(nb, label="one", touched=None, conversation=conversation(1))
    run(nb, "x = 2")
    report = store.undo(nb, touched={"x"}, conversation=conversation(2))
    assert report.target == first.id and nb["x"] == 1
    assert report.conversation == conversation(1)
    assert "conversation" not in report.model_dump()  # never sent to a panel whole
    redo = store.restore(nb, report.saved_as, touched=set(), conversation=conversation(1))
    assert redo.conversation == conversation(2) and nb["x"] == 2


def test_items_are_written_once_and_survive_gc(store, nb, store_dir):
    conv = conversation(50)
    store.checkpoint(nb, label="a", touched=None, conversation=conv)
    grown = {k: [*v, {"role": "user", "content": "one more"}] for k, v in conv.items()}
    info = store.checkpoint(nb, label="b", touched=set(), conversation=grown)
    assert 0 < info.bytes_written < 200  # only the two new items, packed in one chunk
    store.gc()
    assert store.conversation(info.id) == grown


def test_same_messages_same_state(store, nb):
    run(nb, "x = 1")
    a = store.checkpoint(nb, label="a", touched=None, conversation=conversation(2))
    # equal content, new objects (as after a restore): the same state, no new checkpoint
    same = store.checkpoint(
        nb, label="b", touched=set(), conversation=conversation(2), skip_if_same=True
    )
    assert same.id == a.id
    other = store.checkpoint(
        nb, label="c", touched=set(), conversation=conversation(3), skip_if_same=True
    )
    assert other.id != a.id


def test_a_damaged_conversation_changes_nothing(store, nb, store_dir):
    run(nb, "x = 1")
    first = store.checkpoint(nb, label="a", touched=None, conversation=conversation(1))
    run(nb, "x = 2")
    manifest = store.manifest(first.id)
    key = manifest.conversation.parts["messages"][0].key
    chunk = store_dir / "objects" / key[:2] / key[2:]
    chunk.write_bytes(b"garbage")
    with pytest.raises(CorruptCheckpointError):
        store.restore(nb, first.id, touched={"x"})
    assert nb["x"] == 2


def test_value_summary_reads_no_user_code():
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")

    class Sneaky:
        @property
        def shape(self):  # pragma: no cover - must never run
            raise AssertionError("a user's property ran")

        def __len__(self):  # pragma: no cover
            raise AssertionError("a user's __len__ ran")

    assert value_summary(pd.DataFrame({"a": range(3), "b": range(3)})) == "DataFrame 3×2"
    assert value_summary(np.zeros(5, dtype=np.int32)) == "ndarray 5 int32"
    assert value_summary([1, 2]) == "list len 2"
    assert value_summary(Sneaky()).endswith("Sneaky")
