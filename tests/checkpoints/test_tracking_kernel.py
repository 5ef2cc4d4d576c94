"""The touch tracker in a real aiipython kernel: what user cells change between two AI turns
is in the checkpoint before the second, so undoing that turn brings exactly those values back.

A name the tracker missed would keep its value from the first checkpoint and come back stale.
"""

from __future__ import annotations

from tests.checkpoints.test_kernel import value
from tests.support.kernels import execute
from tests.support.model_steps import Reply

SETUP = """
counter = 0
box = {"k": 0}
plain = timed = 0
def bump():
    global counter
    counter += 1
class Setter:
    def go(self):
        box["k"] = 5
setter = Setter()
"""

USER_CELLS = [
    "plain = 1",  # a plain assignment
    "bump()",  # a global changed inside a notebook function
    "setter.go()",  # a global changed by a method of a notebook object
    "def make():\n    global fresh\n    fresh = 'made'\nmake()",  # defined and called at once
    "%time timed = 2",  # code inside a magic
    "s = '''\n%ai not a turn\n'''",  # a string, not a magic
]

SPOIL = "```py\nplain = counter = timed = fresh = s = None\nbox['k'] = None\n```"


def test_cells_between_turns_are_in_the_next_checkpoint(ai_kernel, model_server):
    km, kc = ai_kernel
    assert execute(kc, SETUP).status == "ok"
    model_server.script(Reply("ok"), Reply(SPOIL), Reply("spoiled"))
    assert execute(kc, "%%ai\nfirst").status == "ok"  # checkpoints 0000 (before), 0001 (after)
    for cell in USER_CELLS:
        result = execute(kc, cell)
        assert result.status == "ok", (cell, result.all_text())
    assert execute(kc, "%%ai\nspoil everything").status == "ok"  # 0002 (before), 0003
    assert value(kc, "[plain, counter, box['k'], fresh, timed, s]") == [None] * 6

    undo = execute(kc, "%undo")
    assert "Restored [0002]" in undo.all_text(), undo.all_text()
    assert value(kc, "[plain, counter, box['k'], fresh, timed, s]") == [
        1,
        1,
        5,
        "made",
        2,
        "\n%ai not a turn\n",
    ]
    assert len(model_server.model_requests()) == 3  # the string started no turn
