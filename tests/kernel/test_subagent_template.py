"""The warm template (issue 13, fast spawn): children forked from a per-kernel template
process through real kernels, and the ordinary start when the template is off or broken."""

from __future__ import annotations

import os
import signal

import pytest

from tests.kernel.test_subagents import (
    by_task,
    pid_alive,
    spawn_sleeping_child,
    value,
    wait_until,
)
from tests.support.kernels import execute, model_env, running_kernel

pytestmark = pytest.mark.parametrize("lm_backend", ["gateway"], indirect=True)


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])


def command_of(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        return fh.read().replace(b"\0", b" ").decode()


def shown(result) -> str:
    """The HTML of the children's blocks in a cell's output."""
    return "".join(
        o["content"]["data"].get("text/html", "")
        for o in result.outputs
        if o["msg_type"] in ("display_data", "update_display_data")
    )


def kernel_pid(km) -> int:
    return km.provisioner.process.pid


def assert_forked(km, pid: int) -> int:
    """``pid`` is a child of this kernel's template; the template's pid."""
    template = parent_of(pid)
    assert template != kernel_pid(km), "the child was started normally, not forked"
    assert "aiikernel.subagents.template" in command_of(template)
    assert parent_of(template) == kernel_pid(km)
    return template


def test_forked_child_runs_a_turn_on_its_clone(ai_kernel, model_server):
    km, kc = ai_kernel
    execute(kc, "import numpy as np\narr = np.arange(1_000_000, dtype=np.float64)\nx = 41")
    model_server.responder = by_task(
        {
            "add one": ["```py\nprint('CHILD', x + 1, arr[:4].sum())\n```", "it is 42"],
            "draw one": ["```py\nr = float(np.random.random())\n```", "drawn"],
            "draw two": ["```py\nr = float(np.random.random())\n```", "drawn"],
        }
    )
    result = execute(kc, "c = spawn_agent('add one')\nprint('RESULT', c.result)")
    assert result.status == "ok", result.all_text()
    assert "RESULT it is 42" in result.stream_text()
    assert "CHILD 42 6.0" in shown(result)
    template = assert_forked(km, int(value(kc, "c.pid")))
    # Two more children of the same template: NumPy's global random state was reseeded.
    execute(kc, "a = spawn_agent('draw one')\nb = spawn_agent('draw two')\ngather(a, b)")
    assert parent_of(int(value(kc, "a.pid"))) == template
    assert value(kc, "a.get('r') != b.get('r')") == "True"
    # BLAS got its threads back (the template imported NumPy with one).
    code = (
        "```py\nfrom aiikernel.subagents.forked import _openblas\n"
        "blas = _openblas()\nthreads = (blas.get_threads(), blas.get_procs())\n```"
    )
    model_server.responder = by_task({"blas": [code, "ok"]})
    execute(kc, "t = spawn_agent('blas', names=[])\nt.result")
    threads, procs = eval(value(kc, "t.get('threads')"))
    assert threads == procs, (threads, procs)


def test_interrupt_reaches_a_forked_child(ai_kernel, model_server, tmp_path):
    km, kc = ai_kernel
    spawn_sleeping_child(kc, model_server, tmp_path)
    assert_forked(km, int(value(kc, "c.pid")))
    result = execute(kc, "c.interrupt()\nprint(repr(c.result))\nprint(c.turns[-1]['reason'])")
    assert result.status == "ok", result.all_text()
    assert result.stream_text().strip().splitlines()[-1] == "interrupted"
    assert value(kc, "c.ask('again')") == "'awake'"


def test_crash_of_a_forked_child_is_reported(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.responder = by_task({"wait here": ["```py\nimport time\ntime.sleep(60)\n```"]})
    execute(kc, "c = spawn_agent('wait here')")
    wait_until(lambda: len(model_server.model_requests()) >= 1)
    pid = int(value(kc, "c.pid"))
    assert_forked(km, pid)
    os.kill(pid, signal.SIGKILL)
    result = execute(kc, "try:\n    c.result\nexcept Exception as e:\n    print('ERR', e)")
    assert "killed by SIGKILL" in result.stream_text()
    assert value(kc, "c.status") == "'crashed'"


def test_parent_sigkill_leaves_no_template_and_no_child(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.responder = by_task({"stay": ["ok"]})
    execute(kc, "a = spawn_agent('stay')\nb = spawn_agent('stay')\ngather(a, b)")
    children = [int(value(kc, "a.pid")), int(value(kc, "b.pid"))]
    template = assert_forked(km, children[0])
    assert parent_of(children[1]) == template
    pids = [template, *children]
    assert all(pid_alive(p) for p in pids)
    os.kill(kernel_pid(km), signal.SIGKILL)
    wait_until(lambda: not any(pid_alive(p) for p in pids), timeout=30)


def test_template_off_or_broken_starts_children_normally(ai_kernel, model_server, tmp_path):
    km, kc = ai_kernel
    code = "```py\nprint('CHILD', x)\n```"
    model_server.responder = by_task({"greet": [code, "hi"], "salute": [code, "hi"]})
    execute(kc, "x = 7\n%config SubAgents.template = False")
    result = execute(kc, "c = spawn_agent('greet')\nprint('RESULT', c.result)")
    assert "RESULT hi" in result.stream_text() and "CHILD 7" in shown(result)
    assert parent_of(int(value(kc, "c.pid"))) == kernel_pid(km)
    # A module that starts a thread at import makes the template refuse to fork.
    (tmp_path / "starts_a_thread.py").write_text(
        "import threading\nthreading.Thread(target=threading.Event().wait, daemon=True).start()\n"
    )
    execute(
        kc,
        "c.stop()\n%config SubAgents.template = True\n"
        "%config SubAgents.template_modules = ['starts_a_thread']",
    )
    result = execute(kc, "d = spawn_agent('salute')\nprint('RESULT', d.result)")
    assert "RESULT hi" in result.stream_text() and "CHILD 7" in shown(result)
    assert parent_of(int(value(kc, "d.pid"))) == kernel_pid(km)


def test_a_killed_template_is_replaced(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.responder = by_task({"hello": ["hi"]})
    execute(kc, "a = spawn_agent('hello')\na.result")
    first = assert_forked(km, int(value(kc, "a.pid")))
    os.kill(first, signal.SIGKILL)  # its children die with it
    wait_until(lambda: value(kc, "a.status") == "'crashed'")
    result = execute(kc, "b = spawn_agent('hello')\nprint('RESULT', b.result)")
    assert "RESULT hi" in result.stream_text(), result.all_text()
    second = assert_forked(km, int(value(kc, "b.pid")))
    assert second != first


TEMPLATE_PID = (
    "(lambda t: t.pid if t is not None and t.ready_seconds is not None else None)("
    "getattr(get_ipython(), '_aiikernel_agents', None) and "
    "get_ipython()._aiikernel_agents.supervisor.template)"
)


def test_prewarm_set_with_config_starts_the_template_before_any_spawn(ai_kernel, model_server):
    km, kc = ai_kernel
    assert value(kc, TEMPLATE_PID) == "None"
    result = execute(kc, "%config SubAgents.prewarm = True")
    assert result.status == "ok", result.all_text()
    wait_until(lambda: value(kc, TEMPLATE_PID) != "None")
    warm = int(value(kc, TEMPLATE_PID))
    assert parent_of(warm) == kernel_pid(km)
    model_server.responder = by_task({"hello": ["hi"]})
    result = execute(kc, "a = spawn_agent('hello')\nprint('RESULT', a.result)")
    assert "RESULT hi" in result.stream_text(), result.all_text()
    assert assert_forked(km, int(value(kc, "a.pid"))) == warm  # the first spawn forked warm


def test_prewarm_from_the_config_file_starts_with_the_first_ai_turn(
    model_server, lm_backend, tmp_path
):
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text("c.SubAgents.prewarm = True\n")
    env = model_env(model_server, IPYTHONDIR=str(tmp_path / "ipython"), **lm_backend)
    work = tmp_path / "work"
    work.mkdir()
    with running_kernel("aiipython", env=env, cwd=work) as (km, kc):
        assert value(kc, "get_ipython()._aiikernel_subagents_config.prewarm") == "True"
        execute(kc, "x = 1")
        assert value(kc, TEMPLATE_PID) == "None"  # a kernel that never asks the AI pays nothing
        model_server.responder = by_task({"hello": ["hi"]})
        result = execute(kc, "%%ai\nhello")
        assert result.status == "ok", result.all_text()
        wait_until(lambda: value(kc, TEMPLATE_PID) != "None")
        assert parent_of(int(value(kc, TEMPLATE_PID))) == kernel_pid(km)


@pytest.mark.parametrize("template", [True, False], ids=["forked", "started"])
def test_a_child_that_dies_while_it_starts_is_reported(ai_kernel, model_server, template):
    """A child that ends before it is ready (here: restoring a value kills it) gives a clear
    error on its proxy, the parent lives on, and the next spawn works."""
    km, kc = ai_kernel
    model_server.responder = by_task({"never runs": ["no"], "after": ["fine"]})
    setup = (
        f"%config SubAgents.template = {template}\nimport os\n"
        "class Boom:\n    def __reduce__(self):\n        return (os._exit, (3,))\n"
        "boom = Boom()"
    )
    assert execute(kc, setup).status == "ok"
    result = execute(
        kc,
        "c = spawn_agent('never runs', names=['boom'])\n"
        "try:\n    c.wait_ready()\nexcept Exception as e:\n    print('ERR', type(e).__name__, e)",
    )
    assert result.status == "ok", result.all_text()
    assert "ERR AgentError agent-1 could not start" in result.stream_text()
    assert "kernel died (exited with code 3)" in result.stream_text()
    assert value(kc, "c.status") == "'crashed'"
    assert model_server.model_requests() == []  # it never reached its turn
    result = execute(kc, "d = spawn_agent('after', names=[])\nprint('RESULT', d.result)")
    assert "RESULT fine" in result.stream_text(), result.all_text()
    if template:
        assert_forked(km, int(value(kc, "d.pid")))
