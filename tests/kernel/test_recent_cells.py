"""The model knows the notebook: every turn's system prompt lists the cells the user ran last."""

from __future__ import annotations

from aiikernel.turn.cells import CellLog
from tests.kernel.chat_helpers import ChatClient, is_done
from tests.support.kernels import execute
from tests.support.model_steps import Reply


def test_cell_log_keeps_the_newest_cells_within_the_budget():
    log = CellLog(max_cells=3, output_limit=50)
    for i in range(5):
        log.begin(f"x{i} = {i}", number=i + 1)
        log.add_output({"output_type": "stream", "name": "stdout", "text": "a" * 200})
        log.finish(result=repr(i))
    assert [c.source for c in log.cells] == ["x2 = 2", "x3 = 3", "x4 = 4"]
    text = log.render(budget=10_000)
    assert text.index("x2 = 2") < text.index("x4 = 4") and "characters cut" in text
    short = log.render(budget=200)
    assert "x4 = 4" in short and "x2 = 2" not in short and "earlier cells not shown" in short
    log.begin("1/0", number=9)
    log.finish(error="\x1b[31mZeroDivisionError\x1b[0m: division by zero")
    assert "ZeroDivisionError: division by zero" in log.render() and "\x1b" not in log.render()


def test_cell_and_panel_turns_see_the_recent_cells(ai_kernel, model_server):
    km, kc = ai_kernel
    execute(kc, "rows = [3, 1, 2]\nprint('sorted:', sorted(rows))")
    execute(kc, "len(rows) * 10")
    execute(kc, "rows['a']")  # a TypeError the model should hear about
    execute(kc, "%%ai\nwhat happened?")
    system = model_server.model_requests()[-1].body_json["messages"][0]["content"]
    recent = system[system.index("cells the user ran most recently") :]
    assert "rows = [3, 1, 2]" in recent and "sorted: [1, 2, 3]" in recent
    assert "len(rows) * 10" in recent and "30" in recent
    assert "TypeError: list indices must be integers or slices, not str" in recent
    assert recent.index("rows = [3, 1, 2]") < recent.index("rows['a']")
    assert "what happened?" not in recent  # the %%ai cell is the prompt, not a recent cell

    # a panel's turn sees them too, and the AI's own code is not listed as a user cell
    model_server.script(Reply("```py\nai_made = 1\n```"), Reply("done"))
    chat = ChatClient(kc)
    chat.collect(lambda m: m["type"] == "state")
    chat.execute_request({"type": "prompt", "request_id": "p1", "text": "fix it"})
    chat.collect(is_done)
    last = model_server.model_requests()[-1].body_json["messages"][0]["content"]
    assert "rows['a']" in last and "ai_made = 1" not in last.split("most recently")[1]
    assert "__import__" not in last
