"""Sub-agents through real kernels: a parent aiipython kernel spawns child kernels that clone
its namespace, run AI turns against the scripted model server, and hand values back."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.support.kernels import execute
from tests.support.model_steps import Reply

pytestmark = pytest.mark.parametrize("lm_backend", ["gateway"], indirect=True)


def by_task(answers: dict[str, list[str]]):
    """A responder that answers by the latest prompt: the key named last in the latest user
    message that names one (the engine joins a prompt onto the code output before it)."""
    served: dict[str, int] = {}

    def respond(request):
        messages = request.body_json.get("messages", [])
        for message in reversed(messages):
            if message.get("role") != "user":
                continue
            content = message["content"]
            text = content if isinstance(content, str) else json.dumps(content)
            named = {key: text.rfind(key) for key in answers if key in text}
            if named:
                key = max(named, key=named.__getitem__)
                index = served.get(key, 0)
                served[key] = index + 1
                replies = answers[key]
                return Reply(replies[min(index, len(replies) - 1)])
        return None

    return respond


def value(kc, expression: str) -> str:
    result = execute(kc, f"print(repr({expression}))")
    assert result.status == "ok", result.all_text()
    return result.stream_text().strip()


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_child_clones_the_namespace_and_its_changes_stay_there(ai_kernel, model_server):
    km, kc = ai_kernel
    execute(
        kc,
        "import numpy as np\narr = np.arange(3_000_000, dtype=np.float64)\n"
        "def double(v):\n    return 2 * v\nx = 5\n",
    )
    model_server.responder = by_task(
        {
            "compute y": [
                "```py\nfrom aiikernel.session import AiSession\n"
                "print('EXAMINED', AiSession.for_shell(get_ipython()).checkpoints.recent[-1].examined)\n"
                "x = x + 100\narr[0] = -1.0\ny = double(arr[:4]).sum()\nprint('child y', y)\n```",
                "y is 10",
            ]
        }
    )
    result = execute(kc, "child = spawn_agent('compute y')\nprint('RESULT', child.result)")
    assert result.status == "ok", result.all_text()
    assert "RESULT y is 10" in result.stream_text()
    # the child's turn streamed into this cell as a labelled block
    blocks = [
        o["content"]["data"]["text/html"]
        for o in result.outputs
        if o["msg_type"] in ("display_data", "update_display_data")
        and "aiikernel-agent" in o["content"]["data"].get("text/html", "")
    ]
    assert blocks and "agent-1" in blocks[-1] and "child y 10.0" in blocks[-1]
    # the clone is the child's own checkpoint: its first turn re-examines (hashes) nothing
    examined = blocks[-1].split("EXAMINED ")[1].split("\n")[0]
    assert "arr" not in examined and "double" not in examined, examined
    # isolation: nothing the child did reached the parent
    assert value(kc, "x") == "5"
    assert value(kc, "arr[0]") == "np.float64(0.0)"
    assert "NameError" in execute(kc, "y").errors()[0]["ename"]
    # the child saw the clone: its first request lists the parent's variables
    child_request = next(
        r for r in model_server.model_requests() if "compute y" in json.dumps(r.body_json)
    )
    system = child_request.body_json["messages"][0]["content"]
    assert "arr: numpy.ndarray shape=(3000000,)" in system and "double" in system
    assert value(kc, "child.status") == "'idle'"
    assert "agent-1" in value(kc, "child")


def test_pull_get_push_and_another_turn(ai_kernel, model_server):
    km, kc = ai_kernel
    execute(kc, "import numpy as np\nbase = np.arange(2_000_000, dtype=np.float64)")
    model_server.responder = by_task(
        {
            "make big": ["```py\nbig = base * 2\nlabel = 'made'\n```", "made big"],
            "use pushed": ["```py\ntotal = float(extra.sum()) + k\n```", "total ready"],
        }
    )
    execute(kc, "child = spawn_agent('make big')\nchild.result")
    assert "NameError" in execute(kc, "big").errors()[0]["ename"]  # nothing implicit
    got = execute(kc, "v = child.get('label')\nprint(v)\nprint('big' in dir())")
    assert got.stream_text().split() == ["made", "False"]  # get() returns, never assigns
    pulled = execute(kc, "pulled = child.pull('big')\nprint(sorted(pulled), big[1_999_999])")
    assert pulled.stream_text().strip() == "['big'] 3999998.0"
    pushed = execute(
        kc,
        "print(child.push(extra=np.ones(1_000_000), k=3))\n"
        "print(child.ask('use pushed values'))\nprint(child.get('total'))",
    )
    assert pushed.stream_text().split("\n")[:3] == ["['extra', 'k']", "total ready", "1000003.0"]
    missing = execute(kc, "child.get('nope')")
    assert "has no variable called 'nope'" in missing.errors()[0]["evalue"]


def test_parallel_children_and_gather(ai_kernel, model_server):
    km, kc = ai_kernel
    execute(kc, "seed = 7")
    model_server.responder = by_task(
        {
            "task A": ["```py\nimport time\ntime.sleep(1)\nout = seed + 1\n```", "A done"],
            "task B": ["```py\nimport time\ntime.sleep(1)\nout = seed + 2\n```", "B done"],
        }
    )
    result = execute(
        kc,
        "a = spawn_agent('task A')\nb = spawn_agent('task B')\n"
        "print(gather(a, b))\nprint(a.get('out'), b.get('out'))\nprint(len(agents()))",
        timeout=180,
    )
    assert result.status == "ok", result.all_text()
    assert result.stream_text().split("\n")[:3] == ["['A done', 'B done']", "8 9", "2"]
    # both children ran at the same time: each one's code started before the other finished
    assert len({value(kc, "a.pid"), value(kc, "b.pid")}) == 2
    awaited = execute(kc, "r = await gather_async(a.ask_async('task A again'), b)\nprint(r)")
    assert awaited.status == "ok", awaited.all_text()


def test_model_spawns_a_child_from_an_ai_turn(ai_kernel, model_server):
    km, kc = ai_kernel
    execute(kc, "data = [1, 2, 3]")
    model_server.responder = by_task(
        {
            "sum in a sub-agent": [
                "```py\nhelper = spawn_agent('sum the data list')\nprint('helper says', helper.result)\n```",
                "The helper found 6.",
            ],
            "sum the data list": ["```py\ns = sum(data)\n```", "the sum is 6"],
        }
    )
    result = execute(kc, "%%ai\nsum in a sub-agent", timeout=180)
    assert result.status == "ok", result.all_text()
    assert "helper says the sum is 6" in result.stream_text()
    parent_system = next(
        r for r in model_server.model_requests() if "sum in a sub-agent" in json.dumps(r.body_json)
    ).body_json["messages"][0]["content"]
    assert "spawn_agent(task" in parent_system  # the model is told how
    assert value(kc, "helper.get('s')") == "6"


def test_model_error_in_child_and_unpicklable_names(ai_kernel, model_server):
    from tests.support.model_steps import Fault

    km, kc = ai_kernel
    execute(kc, "gen = (i for i in range(3))\nok = 1")

    def respond(request):
        if "will fail" in json.dumps(request.body_json):
            return Fault(401, "bad key")
        return None

    model_server.responder = respond
    result = execute(
        kc,
        "c = spawn_agent('this will fail')\n"
        "try:\n    c.result\nexcept Exception as e:\n    print('ERR', type(e).__name__, e)\n"
        "print(c.skipped)",
    )
    text = result.stream_text()
    assert "ERR AgentError agent-1's turn failed (authentication)" in text
    assert "'gen'" in text  # the generator could not be cloned and is reported
    assert value(kc, "ok") == "1"  # the parent is fine
    assert value(kc, "c.status") == "'idle'"  # the child too: it can take another turn


def test_child_crash_gives_a_clear_error(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.responder = by_task({"wait here": ["```py\nimport time\ntime.sleep(60)\n```"]})
    execute(kc, "c = spawn_agent('wait here')")
    wait_until(lambda: len(model_server.model_requests()) >= 1)  # the child runs its turn
    pid = int(value(kc, "c.pid"))
    assert pid_alive(pid)
    os.kill(pid, signal.SIGKILL)
    result = execute(kc, "try:\n    c.result\nexcept Exception as e:\n    print('ERR', e)")
    assert "killed by SIGKILL" in result.stream_text()
    assert value(kc, "c.status") == "'crashed'"
    assert "is crashed" in execute(kc, "c.ask('more')").errors()[0]["evalue"]


def test_caps_on_children_and_depth(ai_kernel, model_server):
    km, kc = ai_kernel
    execute(kc, "%config SubAgents.max_children = 1\n%config SubAgents.max_depth = 1")
    model_server.responder = by_task(
        {
            "first": [
                "```py\ntry:\n    spawn_agent('grandchild')\nexcept Exception as e:\n    why = str(e)\n```",
                "ok",
            ],
        }
    )
    result = execute(kc, "a = spawn_agent('first')\na.result\nspawn_agent('second')")
    assert "1 sub-agents are running (SubAgents.max_children = 1)" in result.errors()[0]["evalue"]
    assert "may nest 1 deep" in value(kc, "a.get('why')")
    execute(kc, "a.stop()")
    assert value(kc, "a.status") == "'stopped'"
    assert value(kc, "agents()[0].status") == "'stopped'"


def test_parent_kill_leaves_no_child_process(ai_kernel, model_server):
    km, kc = ai_kernel
    execute(kc, "%config SubAgents.max_depth = 2")
    model_server.responder = by_task(
        {
            "outer": [
                "```py\ninner = spawn_agent('inner')\ninner.result\ninner_pid = inner.pid\n```",
                "outer ok",
            ],
            "inner": ["inner ok"],
        }
    )
    execute(kc, "c = spawn_agent('outer')\nc.result\ninner_pid = c.get('inner_pid')")
    pids = [int(value(kc, "c.pid")), int(value(kc, "inner_pid"))]
    assert all(pid_alive(p) for p in pids)
    rows = value(kc, "[(r.id, r.depth) for r in agents()]")
    assert rows == "[('agent-1', 1), ('agent-1.1', 2)]"
    os.kill(km.provisioner.process.pid, signal.SIGKILL)
    wait_until(lambda: not any(pid_alive(p) for p in pids), timeout=30)


def test_panel_comm_lists_children_and_stops_one(ai_kernel, model_server):
    import queue
    import uuid

    from aiikernel.subagents import PANEL_TARGET
    from aiikernel.subagents.panel import TARGET_NAME

    assert PANEL_TARGET == TARGET_NAME
    km, kc = ai_kernel
    comm_id = uuid.uuid4().hex
    kc.shell_channel.send(
        kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": TARGET_NAME, "data": {}})
    )
    model_server.responder = by_task({"slow job": ["```py\nimport time\ntime.sleep(60)\n```"]})
    execute(kc, "c = spawn_agent('slow job')")
    seen: list[list[dict]] = []

    def rows_until(condition, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            content = msg["content"]
            if msg["msg_type"] == "comm_msg" and content.get("comm_id") == comm_id:
                rows = content["data"].get("agents")
                if rows is not None:
                    seen.append(rows)
                    if condition(rows):
                        return rows
        raise AssertionError(f"no such update; seen {seen[-3:]}")

    rows = rows_until(lambda rows: rows and rows[0]["status"] == "running")
    assert rows[0]["id"] == "agent-1" and rows[0]["task"] == "slow job" and rows[0]["pid"]
    pid = rows[0]["pid"]
    kc.shell_channel.send(
        kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"type": "stop", "id": "agent-1"}})
    )
    rows_until(lambda rows: rows[0]["status"] == "stopped")
    wait_until(lambda: not pid_alive(pid), timeout=30)


def spawn_sleeping_child(kc, model_server, tmp_path) -> None:
    """``c``: a child whose turn runs ``time.sleep(120)``; returns once that code runs.

    Interrupt the code, not the model's reply: a reply cut off before it was recorded
    leaves the prompt unanswered, and the next prompt joins it. The child answers
    "after the interrupt" next, and "awake" to "again".
    """
    started = tmp_path / "sleeping"
    code = (
        f"```py\nimport pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(120)\n```"
    )
    model_server.responder = by_task({"sleepy": [code, "after the interrupt"], "again": ["awake"]})
    execute(kc, "c = spawn_agent('sleepy')")
    wait_until(started.exists)


def test_interrupt_ends_the_child_turn_and_the_child_lives(ai_kernel, model_server, tmp_path):
    km, kc = ai_kernel
    spawn_sleeping_child(kc, model_server, tmp_path)
    result = execute(
        kc, "c.interrupt()\nprint('TEXT', repr(c.result))\nprint(c.turns[-1]['reason'])"
    )
    assert result.status == "ok", result.all_text()
    assert result.stream_text().strip().splitlines()[-1] == "interrupted"
    assert value(kc, "c.ask('again')") == "'awake'"
