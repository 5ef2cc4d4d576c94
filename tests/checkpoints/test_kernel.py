"""Checkpoints through a real aiipython kernel, with `%%ai` turns against the scripted model."""

from __future__ import annotations

import json

from tests.support.kernels import execute
from tests.support.model_steps import Reply


def value(kc, expr: str) -> object:
    """Evaluate ``expr`` in the kernel and bring the result back as JSON."""
    result = execute(kc, f"import json as _j\nprint(_j.dumps({expr}))")
    assert result.status == "ok", result.all_text()
    return json.loads(result.stream_text().strip().splitlines()[-1])


SETUP = """
import threading
import numpy as np
import pandas as pd
arr = np.zeros(200_000)
df = pd.DataFrame({"a": np.arange(1000), "s": [f"r{i}" for i in range(1000)]})
items = [1, 2, 3]
same = items
d = {"k": items}
doomed = "still here"
lock = threading.Lock()
def double(v):
    return v * 2
"""

TURN = """Changing things.
```py
arr[7] = 1.5
df["a"] = df["a"] * 10
items.append(4)
del doomed
created = "new"
def double(v):
    return -v
lock = threading.Lock()
```
"""


def test_undo_after_an_ai_turn(ai_kernel, model_server):
    km, kc = ai_kernel
    assert execute(kc, SETUP).status == "ok"
    model_server.script(Reply(TURN), Reply("Done."))
    assert execute(kc, "%%ai\nchange everything").status == "ok"
    assert value(kc, "[float(arr[7]), int(df['a'][3]), items, 'created' in dir()]") == [
        1.5,
        30,
        [1, 2, 3, 4],
        True,
    ]

    undo = execute(kc, "%undo")
    assert undo.status == "ok"
    text = undo.all_text()
    assert "Restored [0000]" in text
    assert "lock" in text and "Not rolled back" in text  # the unpicklable is reported
    assert "Traceback" not in text

    assert value(
        kc,
        "[float(arr[7]), int(df['a'][3]), items, same is items, d['k'] is items, "
        "doomed, 'created' in dir(), double(3)]",
    ) == [0.0, 3, [1, 2, 3], True, True, "still here", False, 6]

    tree = execute(kc, "%tree").all_text()
    assert "[0000] ● pre: change everything" in tree
    assert "before undo" in tree

    # the undo itself can be undone: restore the state saved before it
    saved = [line for line in text.splitlines() if "state before this" in line][0]
    saved_id = saved.split("[")[1].split("]")[0]
    assert execute(kc, f"%restore {saved_id}").status == "ok"
    assert value(kc, "[float(arr[7]), items, created, double(3)]") == [1.5, [1, 2, 3, 4], "new", -3]


def test_restore_across_branches_and_fork(ai_kernel, model_server):
    km, kc = ai_kernel
    execute(kc, "path = ['trunk']")
    model_server.script(
        Reply("```py\npath.append('a1')\n```"),
        Reply("ok"),
        Reply("```py\npath.append('a2')\n```"),
        Reply("ok"),
        Reply("```py\npath.append('b1')\n```"),
        Reply("ok"),
    )
    execute(kc, "%%ai\nbranch a step 1")  # 0000: ['trunk'], 0001 (after the turn)
    execute(kc, "%fork after-a1")  # 0002: ['trunk', 'a1']
    execute(kc, "%%ai\nbranch a step 2")  # 0003: ['trunk', 'a1'], 0004
    assert execute(kc, "%restore 0000").status == "ok"
    assert value(kc, "path") == ["trunk"]
    execute(kc, "%%ai\nbranch b")  # child of 0000
    assert value(kc, "path") == ["trunk", "b1"]

    out = execute(kc, "%restore after-a1").all_text()
    assert "Restored [0002]" in out
    assert value(kc, "path") == ["trunk", "a1"]
    tree = execute(kc, "%tree").all_text()
    assert "⑂ after-a1" in tree
    assert "pre: branch b" in tree and "pre: branch a step 2" in tree
    bad = execute(kc, "%restore 0099")
    assert bad.status == "ok" and "[0099] does not exist" in bad.all_text()
    assert not bad.errors()


def test_corrupt_chunk_and_missing_manifest_through_the_kernel(ai_kernel, model_server, tmp_path):
    km, kc = ai_kernel
    execute(kc, "import numpy as np\nbig = np.random.default_rng(0).random(3_000_000)")
    model_server.script(
        Reply("```py\nbig = np.random.default_rng(1).random(3_000_000)\n```"),
        Reply("ok"),
        Reply("```py\nsmall = 1\n```"),
        Reply("ok"),
    )
    execute(kc, "%%ai\nfirst")  # 0000: rng(0), 0001 (after the turn): rng(1)
    execute(kc, "%%ai\nsecond")  # 0002: rng(1), 0003 (after): rng(1) and small
    store = tmp_path / ".aiipython_checkpoints"
    session = next((store / "sessions").iterdir())
    manifest = json.loads((session / "checkpoints" / "0000.json").read_text())
    key = manifest["entries"]["big"]["buffers"][0]["chunks"][0][0]
    chunk = store / "objects" / key[:2] / key[2:]
    data = bytearray(chunk.read_bytes())
    data[100] ^= 0xFF
    chunk.write_bytes(bytes(data))
    (session / "checkpoints" / "0001.json").unlink()

    corrupt = execute(kc, "%restore 0000")
    assert "corrupt" in corrupt.all_text() and not corrupt.errors()
    assert value(kc, "[small, float(big[0]) == float(np.random.default_rng(1).random(1)[0])]") == [
        1,
        True,
    ]  # nothing was half-restored
    missing = execute(kc, "%restore 0001")
    assert "[0001] does not exist" in missing.all_text() and not missing.errors()
    # a checkpoint that does not need the damaged chunk still restores
    execute(kc, "big = None\nsmall = 2")
    restored = execute(kc, "%restore 0003").all_text()
    assert "Restored [0003]" in restored, restored
    assert value(
        kc, "[small, bool((big == np.random.default_rng(1).random(3_000_000)).all())]"
    ) == [
        1,
        True,
    ]
