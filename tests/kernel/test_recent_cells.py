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


def test_parent_msg_id_reads_every_form_of_send():
    from aiikernel.chat.capture import parent_msg_id

    header = {"msg_id": "req-1", "msg_type": "execute_request"}
    message = {"header": {"msg_id": "own"}, "parent_header": header, "content": {}}
    assert parent_msg_id(message, (), {}) == "req-1"  # a message built by session.msg
    # send(stream, msg_type, content, parent)
    assert parent_msg_id("error", ({}, header), {}) == "req-1"
    assert parent_msg_id("error", ({},), {"parent": {"header": header}}) == "req-1"  # a whole msg
    assert parent_msg_id("stream", ({},), {}) is None
    assert parent_msg_id({"parent_header": None}, (), {}) is None


COUNT_FLUSHES = """
import sys as _fs
_flushes = [0]
for _stream in (_fs.stdout, _fs.stderr):
    def _counting(_orig=_stream.flush):
        _flushes[0] += 1
        return _orig()
    _stream.flush = _counting
"""


def flushes_per_cell(kc, code: str) -> int:
    """Flushes of stdout and stderr from one reading to the next, with ``code`` in between
    (the kernel flushes both streams itself around every request)."""
    before = int(execute(kc, "print(_flushes[0])").stream_text())
    assert execute(kc, code).status == "ok"
    return int(execute(kc, "print(_flushes[0])").stream_text()) - before


def test_user_cells_flush_no_more_than_stock_and_their_output_still_counts(
    ai_kernel, model_server, tmp_path
):
    """The recent-cells log takes a user cell's outputs by request, so after the cell nothing
    is flushed early (each flush waits for the kernel's IO thread); the printed text still
    reaches the model, with the kernel's own flush."""
    from tests.support.kernels import model_env, running_kernel

    km, kc = ai_kernel
    execute(kc, COUNT_FLUSHES)
    ours = [flushes_per_cell(kc, c) for c in ("flush_a = 1", "print('flushed late', 6 * 7)")]
    with running_kernel("python3", env=model_env(model_server), cwd=tmp_path) as (_km, stock):
        execute(stock, COUNT_FLUSHES)
        theirs = [flushes_per_cell(stock, c) for c in ("flush_a = 1", "print('late', 6 * 7)")]
    assert ours == theirs, f"aiipython flushed {ours} times per cell, python3 {theirs}"
    execute(kc, "%%ai\nwhat did I print?")
    system = model_server.model_requests()[-1].body_json["messages"][0]["content"]
    recent = system[system.index("cells the user ran most recently") :]
    assert "print('flushed late', 6 * 7)" in recent and "flushed late 42" in recent


def test_outputs_of_other_requests_stay_out_of_the_last_cell(ai_kernel, model_server):
    """A user cell's outputs are taken until the next cell, but only its own: a silent request
    (a variable inspector, a widget) that prints in between is not the user's cell."""
    km, kc = ai_kernel
    execute(kc, "quiet_x = 5")
    msg_id = kc.execute("print('from a silent request')", silent=True, store_history=False)
    while True:  # until that request is done (its output was sent before its reply)
        reply = kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    execute(kc, "%%ai\nanything?")
    system = model_server.model_requests()[-1].body_json["messages"][0]["content"]
    recent = system[system.index("cells the user ran most recently") :]
    assert "quiet_x = 5" in recent
    assert "from a silent request" not in recent


def test_a_cells_result_is_formatted_once(ai_kernel, model_server):
    """The recent-cells log keeps the result's text/plain the notebook was sent (a DataFrame's
    repr costs milliseconds: formatting it a second time for the log slowed such cells)."""
    km, kc = ai_kernel
    execute(
        kc,
        "class Counted:\n    calls = 0\n    def __repr__(self):\n"
        "        type(self).calls += 1\n        return 'Counted(shown)'\ncounted = Counted()",
    )
    assert execute(kc, "counted").final_outputs()  # shown as the cell's result
    assert execute(kc, "print(Counted.calls)").stream_text().strip() == "1"
    execute(kc, "%%ai\nwhat is counted?")
    system = model_server.model_requests()[-1].body_json["messages"][0]["content"]
    recent = system[system.index("cells the user ran most recently") :]
    assert "result:\n```\nCounted(shown)\n```" in recent
