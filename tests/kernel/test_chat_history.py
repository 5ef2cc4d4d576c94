"""Chat protocol v2 through real kernels: one conversation per kernel, broadcast to every panel,
kept (bounded) for the panel's `history` request, with code outputs as Jupyter MIME bundles."""

from __future__ import annotations

import threading
import time

from tests.kernel.chat_helpers import ChatClient, create_subshell, is_done, is_turn_end
from tests.support.kernels import execute
from tests.support.model_steps import Reply

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

PLOT_REPLY = (
    "Here you go.\n"
    "```py\n"
    "from IPython.display import display, HTML\n"
    "print('rows', 3)\n"
    f"display({{'image/png': '{PNG}', 'text/plain': '<Figure>'}}, raw=True)\n"
    "display(HTML('<table><tr><td>Oslo</td></tr></table>'))\n"
    "41 + 1\n"
    "```\n"
    "And a broken one:\n"
    "```py\n"
    "1 / 0\n"
    "```\n"
)


def test_cell_turn_reaches_open_panels_and_history(ai_kernel, model_server):
    km, kc = ai_kernel
    first, second = ChatClient(kc), ChatClient(kc)
    first.collect(lambda m: m["type"] == "state")
    second.collect(lambda m: m["type"] == "state")

    model_server.script(Reply(PLOT_REPLY), Reply("Done: **42**, and 1/0 fails."))
    kc.execute("%%ai\nplot please")  # (tests.support.kernels.execute would eat the comm messages)
    events, _ = first.collect(is_turn_end)
    events = [m for m in events if m["type"] == "event"]
    assert {m["source"] for m in events} == {"cell"}
    assert all(m["request_id"] is None for m in events)
    seqs = [m["seq"] for m in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    kinds = [m["event"]["kind"] for m in events]
    assert kinds[0] == "turn_started" and kinds[-2:] == ["done", "state_diff"]
    assert [c["name"] for c in events[-1]["event"]["added"]] == ["HTML", "display"]
    assert events[0]["event"]["max_steps"] == 10
    assert "code_output" in kinds and "text_delta" in kinds

    started = [m["event"] for m in events if m["event"]["kind"] == "code_started"]
    assert PLOT_REPLY[started[0]["start_offset"] :].startswith("```py\nfrom IPython")
    outputs = [m["event"]["output"] for m in events if m["event"]["kind"] == "code_output"]
    types = [o["output_type"] for o in outputs]
    assert types == ["stream", "display_data", "display_data", "execute_result", "error"]
    assert outputs[0]["text"] == "rows 3\n"
    assert outputs[1]["data"]["image/png"] == PNG
    assert "<table>" in outputs[2]["data"]["text/html"]
    assert outputs[3]["data"]["text/plain"] == "42"
    assert outputs[4]["ename"] == "ZeroDivisionError" and outputs[4]["traceback"]
    # the markdown the cell renderer shows is not taken for an output of the code
    assert not any("text/markdown" in o.get("data", {}) for o in outputs)

    # the second panel got the same events (read what the first one skipped past)
    second_events, _ = second.collect(is_turn_end)
    assert [m["seq"] for m in second_events if m["type"] == "event"] == seqs

    # a panel opened later asks for the history and sees the same turn
    late = ChatClient(kc)
    late.collect(lambda m: m["type"] == "state")
    history = late.ask({"type": "history", "request_id": "h1"}, "history")
    assert history["seq"] == seqs[-1] and history["busy"] is False
    (turn,) = history["turns"]
    assert turn["source"] == "cell" and turn["prompt"] == "plot please"
    assert turn["checkpoint"] == "0000" and turn["diff"]["text"].startswith("added HTML (type)")
    assert turn["status"] == "answered" and turn["max_steps"] == 10
    assert turn["usage"] == {"prompt_tokens": 20, "completion_tokens": 10, "cost": None}
    assert [s["text"] for s in turn["steps"]] == [PLOT_REPLY, "Done: **42**, and 1/0 fails."]
    blocks = turn["steps"][0]["blocks"]
    assert [b["status"] for b in blocks] == ["ok", "error"]
    assert [o["output_type"] for o in blocks[0]["outputs"]] == types[:4]
    assert blocks[1]["outputs"][0]["ename"] == "ZeroDivisionError"
    assert blocks[0]["start_offset"] == started[0]["start_offset"]


def test_panel_prompt_runs_on_the_main_shell_and_answers_its_comm(ai_kernel, model_server):
    km, kc = ai_kernel
    chat, watcher = ChatClient(kc), ChatClient(kc)
    chat.collect(lambda m: m["type"] == "state")
    watcher.collect(lambda m: m["type"] == "state")
    model_server.script(Reply("```py\nx_chat = 5\nprint(x_chat)\n```"), Reply("x_chat is 5"))
    chat.execute_request({"type": "prompt", "request_id": "p1", "text": "set x"})
    events, _ = chat.collect(is_done)
    events = [m for m in events if m["type"] == "event"]
    assert {(m["source"], m["request_id"]) for m in events} == {("chat", "p1")}
    assert execute(kc, "print(x_chat)").stream_text().strip() == "5"

    chat.execute_request({"type": "command", "request_id": "c1", "line": "/history"})
    result, _ = chat.collect(lambda m: m["type"] == "command_result")
    assert result[-1]["request_id"] == "c1" and result[-1]["data"]["prompts"] == 1

    commands = chat.ask({"type": "commands", "request_id": "k1"}, "commands")
    names = {c["name"] for c in commands["commands"]}
    assert {"help", "reset", "model", "undo", "tree"} <= names
    assert all(c["usage"].startswith("/") and c["help"] for c in commands["commands"])

    state = chat.ask({"type": "state", "request_id": "s1"}, "state")
    assert state["protocol_version"] == 4 and state["turns"] == 1
    assert state["usage"]["prompt_tokens"] == 20 and state["max_steps"] == 10

    # /reset: every panel is told to start from an empty history
    chat.execute_request({"type": "command", "request_id": "c2", "line": "/reset"})
    chat.collect(lambda m: m["type"] == "command_result")
    cleared, _ = watcher.collect(lambda m: m["type"] == "history")
    assert cleared[-1]["turns"] == [] and cleared[-1]["request_id"] is None
    assert chat.ask({"type": "history", "request_id": "h2"}, "history")["turns"] == []


def test_history_is_bounded_and_elides_large_outputs(ai_kernel, model_server):
    km, kc = ai_kernel
    execute(
        kc, "%config ChatHub.history_max_turns = 2\n%config ChatHub.history_output_limit = 1000"
    )
    model_server.script(
        Reply("```py\nprint('y' * 5000)\n```"),
        Reply("big"),
        Reply("second"),
        Reply("third"),
    )
    for prompt in ("first", "second", "third"):
        assert execute(kc, f"%%ai\n{prompt}").status == "ok"
    chat = ChatClient(kc)
    history = chat.ask({"type": "history", "request_id": "h"}, "history")
    assert [t["prompt"] for t in history["turns"]] == ["second", "third"]
    assert history["dropped"] == 1

    execute(kc, "%config ChatHub.history_max_turns = 100")  # only new histories pick it up
    model_server.script(Reply("```py\nprint('z' * 5000)\n```"), Reply("ok"))
    assert execute(kc, "%%ai\nfourth").status == "ok"
    history = chat.ask({"type": "history", "request_id": "h2"}, "history")
    (output,) = history["turns"][-1]["steps"][0]["blocks"][0]["outputs"]
    assert "characters elided from the chat history" in output["text"]
    assert len(output["text"]) < 1200 and output["text"].startswith("zzz")


def test_history_answers_on_a_subshell_during_a_long_turn(ai_kernel, model_server):
    km, kc = ai_kernel
    subshell = create_subshell(kc)
    chat = ChatClient(kc, subshell_id=subshell)
    chat.collect(lambda m: m["type"] == "state")
    model_server.script(
        Reply("```py\nimport time\nprint('working', flush=True)\ntime.sleep(30)\n```"),
        Reply("stopped"),
    )
    chat.execute_request({"type": "prompt", "request_id": "slow", "text": "sleep"})
    chat.collect(lambda m: m["type"] == "event" and m["event"]["kind"] == "code_output")

    started = time.monotonic()
    history = chat.ask({"type": "history", "request_id": "h"}, "history", timeout=10)
    assert time.monotonic() - started < 5
    assert history["busy"] is True and history["turns"][-1]["status"] == "running"
    block = history["turns"][-1]["steps"][0]["blocks"][0]
    assert block["status"] == "running" and block["outputs"][0]["text"] == "working\n"

    # a prompt sent on the subshell is refused (turns run on the main shell only)
    refused = chat.ask({"type": "prompt", "request_id": "p2", "text": "hi"}, "error")
    assert "main shell" in refused["message"]

    # Stop = the kernel interrupt: the turn ends as interrupted, and says so to the panel
    threading.Thread(target=km.interrupt_kernel, daemon=True).start()
    sent = time.monotonic()
    done, _ = chat.collect(is_done, timeout=10)
    assert time.monotonic() - sent < 2
    assert done[-1]["event"]["reason"] == "interrupted"
    history = chat.ask({"type": "history", "request_id": "h3"}, "history")
    assert history["busy"] is False and history["turns"][-1]["status"] == "interrupted"
    assert history["turns"][-1]["steps"][0]["blocks"][0]["status"] == "interrupted"
    assert execute(kc, "print('alive')").stream_text().strip() == "alive"
