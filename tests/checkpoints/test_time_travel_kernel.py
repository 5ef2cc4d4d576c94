"""Time travel through real kernels: a checkpoint holds the namespace *and* the conversation.

The model's side is checked on the scripted server's recorded requests: after `%undo` the
model is never sent the undone turn; after a kernel restart `%resume` brings the variables and
the conversation back; every turn ends with a state diff; rollback on error.
"""

from __future__ import annotations

import json

from tests.checkpoints.test_kernel import value
from tests.kernel.chat_helpers import ChatClient
from tests.support.kernels import execute, model_env, running_kernel
from tests.support.model_steps import Fault, Reply


def sent_texts(model_server) -> str:
    """The conversation the last model request carried (not the system prompt), as one string.

    The system prompt lists the recent cells, whose printed output this test reads back.
    """
    request = model_server.model_requests()[-1]
    return json.dumps([m for m in request.body_json["messages"] if m["role"] != "system"])


def chat_prompts(kc) -> list[str]:
    return value(
        kc,
        "[t.prompt for t in __import__('aiikernel.chat.hub', fromlist=['x'])"
        ".chat_hub(__import__('aiikernel.session', fromlist=['x']).AiSession"
        ".for_shell(get_ipython())).history.turns]",
    )


def test_undo_rewinds_what_the_model_is_sent_and_restore_brings_it_back(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.script(
        Reply("```py\nword = 'alpha'\n```"),
        Reply("Remembered alpha."),
        Reply("Sure: BETA-REPLY."),
        Reply("You asked me to remember a word."),
        Reply("Back on the beta branch."),
    )
    assert execute(kc, "%%ai\nremember the word alpha").status == "ok"
    assert execute(kc, "%%ai\nnow shout beta").status == "ok"
    assert chat_prompts(kc) == ["remember the word alpha", "now shout beta"]

    undo = execute(kc, "%undo").all_text()
    assert "Conversation: back to 1 turn" in undo, undo
    saved = [line for line in undo.splitlines() if "state before this" in line][0]
    redo_id = saved.split("[")[1].split("]")[0]
    assert chat_prompts(kc) == ["remember the word alpha"]

    assert execute(kc, "%%ai\nwhat did I ask?").status == "ok"
    sent = sent_texts(model_server)
    assert "remember the word alpha" in sent and "Remembered alpha." in sent
    assert "now shout beta" not in sent and "BETA-REPLY" not in sent  # the undone turn
    assert chat_prompts(kc) == ["remember the word alpha", "what did I ask?"]

    # the undo is itself undoable: the beta branch comes back, conversation included
    redo = execute(kc, f"%restore {redo_id}").all_text()
    assert "Conversation: back to 2 turns" in redo, redo
    assert chat_prompts(kc) == ["remember the word alpha", "now shout beta"]
    assert execute(kc, "%%ai\nand now?").status == "ok"
    sent = sent_texts(model_server)
    assert "now shout beta" in sent and "BETA-REPLY" in sent and "what did I ask" not in sent
    assert value(kc, "word") == "alpha"


FILTER = "```py\ndf = df[df['a'] >= 20].assign(flag=True)\nkept = len(df)\n```"


def test_every_turn_ends_with_a_state_diff(ai_kernel, model_server):
    km, kc = ai_kernel
    setup = (
        "import numpy as np, pandas as pd\n"
        "df = pd.DataFrame({c: np.arange(1000) for c in 'abcde'})\n"
        "big = np.zeros(1_000_000)\n"
        "doomed = 'x'"
    )
    assert execute(kc, setup).status == "ok"
    model_server.script(Reply(FILTER + "\n```py\ndel doomed\n```"), Reply("Filtered."))
    out = execute(kc, "%%ai\ndrop the first 20 rows and flag the rest")
    text = out.all_text()
    last = text.strip().splitlines()[-1]
    assert "State: added kept (int); changed df: 1000×5 → 980×6; deleted doomed (str len 1)" in last
    assert "big" not in last  # untouched data is neither changed nor looked at
    diff = execute(kc, "%diff").all_text()
    assert (
        "~ df: 1000×5 → 980×6" in diff and "+ kept (int)" in diff and "- doomed (str len 1)" in diff
    )
    assert "unknown" not in execute(kc, "%diff 0000").all_text().lower()
    bad = execute(kc, "%diff 0042").all_text()
    assert "does not exist" in bad and "Traceback" not in bad


def test_restart_and_resume_brings_variables_and_chat_back(model_server, tmp_path):
    env = model_env(model_server)
    model_server.script(
        Reply("```py\ntotal = sum(numbers)\ngen = (n for n in numbers)\n```"),
        Reply("The total is 6."),
    )
    with running_kernel("aiipython", env=env, cwd=tmp_path) as (km, kc):
        assert execute(kc, "numbers = [1, 2, 3]").status == "ok"
        assert execute(kc, "%%ai\nadd up my numbers").status == "ok"
        assert value(kc, "total") == 6

    with running_kernel("aiipython", env=env, cwd=tmp_path) as (km, kc):
        chat = ChatClient(kc)
        state, _ = chat.collect(lambda m: m["type"] == "state")
        offer = state[-1]["resume"]
        assert offer["checkpoint"] == "0001" and offer["turns"] == 1
        assert offer["label"] == "after: add up my numbers"
        assert {"numbers", "total", "gen"} <= set(offer["names"])
        # nothing happens without the user asking
        assert value(kc, "'total' in dir()") is False
        assert "/resume" in execute(kc, "%ai /help").all_text()

        resumed = execute(kc, "%resume").all_text()
        assert "Restored" in resumed and "Conversation: back to 1 turn" in resumed, resumed
        assert "Could not be restored" in resumed and "gen (generator)" in resumed
        assert value(kc, "[numbers, total]") == [[1, 2, 3], 6]
        assert chat_prompts(kc) == ["add up my numbers"]
        # its turn points at the checkpoint of the earlier session (edit-and-replay restores it)
        before = value(
            kc,
            "__import__('aiikernel.chat.hub', fromlist=['x']).chat_hub(__import__("
            "'aiikernel.session', fromlist=['x']).AiSession.for_shell(get_ipython()))"
            ".history.turns[0].checkpoint",
        )
        assert before == f"{offer['session']}/0000"

        model_server.script(Reply("It was 6."))
        assert execute(kc, "%%ai\nwhat was the total?").status == "ok"
        sent = sent_texts(model_server)
        assert "add up my numbers" in sent and "The total is 6." in sent
        again = chat.ask({"type": "state", "request_id": "s2"}, "state")
        assert again["resume"] is None  # this kernel has its own tree now
        assert "%undo" and "Restored" in execute(kc, "%undo").all_text()


def test_resume_with_nothing_to_resume_says_so(ai_kernel):
    km, kc = ai_kernel
    out = execute(kc, "%resume").all_text()
    assert "no earlier kernel session" in out and "Traceback" not in out
    bad = execute(kc, "%resume 0003").all_text()
    assert "SESSION/ID" in bad


def test_rollback_on_error_setting(ai_kernel, model_server):
    km, kc = ai_kernel
    assert execute(kc, "x = 1").status == "ok"
    model_server.script(Reply("```py\nx = 2\ny = 3\n```"), Fault(status=400, message="boom"))
    # off by default: the failed turn's changes stay
    execute(kc, "%%ai\nbreak things")
    assert value(kc, "[x, y]") == [2, 3]

    execute(kc, "x = 1\ndel y\n%config AiSession.rollback_on_error = True")
    model_server.script(Reply("```py\nx = 2\ny = 3\n```"), Fault(status=400, message="boom"))
    text = execute(kc, "%%ai\nbreak things again").all_text()
    assert "ended in an error, so its changes were rolled back" in text, text
    assert value(kc, "[x, 'y' in dir()]") == [1, False]
    redo = text.split("Redo them with /restore ")[1].split(".")[0]
    assert execute(kc, f"%restore {redo}").status == "ok"
    assert value(kc, "[x, y]") == [2, 3]
