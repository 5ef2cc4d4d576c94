"""The panel's side of time travel over the chat comm, with a real kernel.

The Checkpoints view's tree and diffs, the inspectors (variables without side effects, the
wire log redacted), and a `/undo` from the panel redrawing every panel's chat.
"""

from __future__ import annotations

from tests.kernel.chat_helpers import ChatClient, is_turn_end
from tests.support.kernels import execute
from tests.support.model_steps import Reply

SNEAKY = """
touched = []
class Sneaky:
    @property
    def shape(self):
        touched.append('shape')
        return (1, 2)
    def __len__(self):
        touched.append('len')
        return 3
    def __repr__(self):
        touched.append('repr')
        return 'Sneaky()'
    def __sizeof__(self):
        touched.append('sizeof')
        return 1
sneaky = Sneaky()
"""


def test_tree_diff_and_undo_from_the_panel(ai_kernel, model_server):
    km, kc = ai_kernel
    chat, other = ChatClient(kc), ChatClient(kc)
    chat.collect(lambda m: m["type"] == "state")
    other.collect(lambda m: m["type"] == "state")
    empty = chat.ask({"type": "checkpoints", "request_id": "t0"}, "checkpoints")
    assert empty["nodes"] == [] and empty["head"] is None and empty["problem"] is None

    execute(kc, "import numpy as np\nrows = np.zeros((10, 3))")
    model_server.script(Reply("```py\nrows = rows[:4]\n```"), Reply("Cut to 4 rows."))
    chat.execute_request({"type": "prompt", "request_id": "p1", "text": "keep 4 rows"})
    events, _ = chat.collect(is_turn_end)
    diff_event = events[-1]["event"]
    assert diff_event["changed"] == [
        {"name": "rows", "before": "ndarray 10×3 float64", "after": "ndarray 4×3 float64"}
    ]

    tree = chat.ask({"type": "checkpoints", "request_id": "t1"}, "checkpoints")
    assert [(n["id"], n["kind"]) for n in tree["nodes"]] == [("0000", "turn"), ("0001", "after")]
    assert tree["head"] == "0001" and tree["nodes"][1]["parent"] == "0000"
    assert tree["nodes"][1]["added_bytes"] > 0  # the turn's conversation items

    diff = chat.ask({"type": "diff", "request_id": "d1", "checkpoint": "0001"}, "diff")
    assert diff["text"] == "changed rows: 10×3 → 4×3"
    missing = chat.ask({"type": "diff", "request_id": "d2", "checkpoint": "0099"}, "diff")
    assert "does not exist" in missing["problem"]

    # /undo from one panel: both panels get the conversation as it was (no turns)
    chat.execute_request({"type": "command", "request_id": "u1", "line": "/undo"})
    result, _ = chat.collect(lambda m: m["type"] == "command_result")
    assert result[-1]["ok"] and "Conversation: back to 0 turns" in result[-1]["markdown"]
    redrawn, _ = other.collect(lambda m: m["type"] == "history" and m["request_id"] is None)
    assert redrawn[-1]["turns"] == []
    assert execute(kc, "print(rows.shape)").stream_text().strip() == "(10, 3)"
    tree = chat.ask({"type": "checkpoints", "request_id": "t2"}, "checkpoints")
    assert tree["head"] == "0000"


def test_variables_inspector_runs_no_user_code(ai_kernel):
    km, kc = ai_kernel
    assert (
        execute(kc, SNEAKY + "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\nn = 7").status
        == "ok"
    )
    chat = ChatClient(kc)
    chat.collect(lambda m: m["type"] == "state")
    answer = chat.ask({"type": "variables", "request_id": "v1"}, "variables")
    found = {v["name"]: v for v in answer["variables"]}
    assert found["df"]["summary"] == "DataFrame 2×1" and found["df"]["size"] > 0
    assert found["n"] == {"name": "n", "summary": "int", "size": None, "value": "7"}
    assert found["sneaky"]["summary"] == "Sneaky" and found["sneaky"]["value"] == ""
    assert execute(kc, "print(touched)").stream_text().strip() == "[]"


def test_wire_inspector_is_redacted(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.script(Reply("Hello."))
    assert execute(kc, "%%ai\nsay hello").status == "ok"
    chat = ChatClient(kc)
    chat.collect(lambda m: m["type"] == "state")
    wire = chat.ask({"type": "wire", "request_id": "w1", "count": 2}, "wire")
    assert wire["count"] == 1 and "say hello" in wire["markdown"]
    assert "sk-test-key-0123456789" not in wire["markdown"]
