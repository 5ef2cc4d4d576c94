"""Run mode ``ask``: each AI code block waits for Run / Edit / Skip before it touches the
namespace; what the user chose is reported to the model.  Panel answers arrive on a subshell,
a `%%ai` cell asks on stdin."""

from __future__ import annotations

import queue
import time

from aiikernel.turn.approval import Decision, stdin_approval
from tests.kernel.chat_helpers import ChatClient, create_subshell, is_done
from tests.support.kernels import execute
from tests.support.model_steps import Reply

THREE_BLOCKS = (
    "Three steps.\n```py\nfirst = 1\n```\n```py\nsecond = 2\n```\n```py\nthird = 3\n```\n"
)


def test_stdin_approval_answers():
    answers = iter(["", "s", "e", "x = 5\\nprint(x)"])
    approve = stdin_approval(lambda question: next(answers))
    assert approve("a = 1") == Decision("run", "a = 1")
    assert approve("a = 1") == Decision("skip")
    assert approve("a = 1") == Decision("edit", "x = 5\nprint(x)")


def test_panel_turn_waits_for_each_block(ai_kernel, model_server):
    km, kc = ai_kernel
    chat = ChatClient(kc, subshell_id=create_subshell(kc))
    chat.collect(lambda m: m["type"] == "state")
    model_server.script(Reply(THREE_BLOCKS), Reply("Noted."))
    chat.execute_request({"type": "prompt", "request_id": "a1", "text": "go", "run_mode": "ask"})
    answers = [
        {"action": "run"},
        {"action": "edit", "code": "second = 22\nprint('edited ran')"},
        {"action": "skip"},
    ]
    for index, answer in enumerate(answers):
        waiting, _ = chat.collect(
            lambda m: m.get("type") == "event" and m["event"]["kind"] == "code_awaiting"
        )
        event = waiting[-1]
        assert event["event"]["index"] == index
        # nothing ran before the answer: the block's name is not defined yet
        history = chat.ask({"type": "history", "request_id": f"h{index}"}, "history")
        assert history["turns"][-1]["steps"][0]["blocks"][index]["status"] == "pending"
        bad = chat.ask(
            {
                "type": "approve",
                "request_id": f"x{index}",
                "turn": event["turn"],
                "step": 1,
                "index": index + 5,
                "action": "run",
            },
            "error",
        )
        assert "not waiting" in bad["message"]
        chat.request(
            {
                "type": "approve",
                "request_id": f"a{index}",
                "turn": event["turn"],
                "step": 1,
                "index": index,
                **answer,
            }
        )
    chat.collect(is_done)
    feedback = model_server.model_requests()[-1].body_json["messages"][-1]["content"]
    assert "### Output of block 2\nThe user edited this block" in feedback
    assert "second = 22" in feedback and "edited ran" in feedback
    assert "### Output of block 3\n(The user chose not to run this block" in feedback
    values = execute(kc, "print(first, second, 'third' in dir())").stream_text().strip()
    assert values == "1 22 False"
    history = chat.ask({"type": "history", "request_id": "hz"}, "history")
    blocks = history["turns"][-1]["steps"][0]["blocks"]
    assert [b["status"] for b in blocks] == ["ok", "ok", "skipped"]
    assert blocks[1]["edited"] is True and blocks[1]["code"].startswith("second = 22")


def test_cell_turn_asks_on_stdin(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.script(Reply(THREE_BLOCKS), Reply("Noted."))
    msg_id = kc.execute("%%ai --ask\ngo", allow_stdin=True)
    replies = iter(["", "e", "second = 'typed'", "s"])
    prompts = []
    deadline = time.monotonic() + 60
    while len(prompts) < 4 and time.monotonic() < deadline:
        try:
            request = kc.get_stdin_msg(timeout=1)
        except queue.Empty:
            continue
        prompts.append(request["content"]["prompt"])
        kc.input(next(replies))
    assert prompts[0].startswith("Run this code block?") and prompts[2].startswith("Code to run")
    while True:
        reply = kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    feedback = model_server.model_requests()[-1].body_json["messages"][-1]["content"]
    assert "second = 'typed'" in feedback and "did not run" in feedback
    assert execute(kc, "print(first, second)").stream_text().strip() == "1 typed"
