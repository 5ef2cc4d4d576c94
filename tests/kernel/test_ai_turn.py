"""`%%ai` turns through a real aiipython kernel and real litellm HTTP to the scripted server."""

from __future__ import annotations

from tests.support.gateways import BOTH_BACKENDS
from tests.support.kernels import execute
from tests.support.model_steps import Reply

pytestmark = BOTH_BACKENDS  # every test runs against in-kernel litellm and the gateway


def test_fence_runs_in_user_namespace_and_outputs_are_fed_back(ai_kernel, model_server):
    km, kc = ai_kernel
    execute(kc, "import numpy as np\narr = np.zeros((3, 4))\nnames = ['a', 'b']")
    model_server.script(
        Reply(
            "Computing.\n```py\ntotal = arr.sum() + 42\nprint('total is', total)\ntotal\n```\nMore text after."
        ),
        Reply("The total is **42.0**."),
    )
    result = execute(kc, "%%ai\nadd 42 to the sum of arr")
    assert result.status == "ok"
    assert "total is 42.0" in result.stream_text()
    shown = result.markdown()
    assert any("Computing." in m for m in shown)
    assert any("The total is **42.0**." in m for m in shown)
    # order: the text up to the fence, then the fence's output, then the text after it
    text = result.all_text()
    assert text.index("Computing.") < text.index("total is 42.0") < text.index("More text after.")
    assert execute(kc, "print(total)").stream_text().strip() == "42.0"

    first, second = model_server.model_requests()
    system = first.body_json["messages"][0]["content"]
    assert "arr: numpy.ndarray shape=(3, 4) dtype=float64" in system
    assert "names: list len=2" in system
    assert "np" not in [line.split(":")[0].strip("- ") for line in system.splitlines()]
    feedback = second.body_json["messages"][-1]["content"]
    assert "total is 42.0" in feedback and "result:" in feedback


def test_reference_fences_are_shown_not_run(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.script(Reply("Example only:\n```#py\nshould_not_exist = 1\n```\n"))
    result = execute(kc, "%%ai\nshow me an example")
    assert any("should_not_exist = 1" in m for m in result.markdown())
    assert "NameError" in execute(kc, "should_not_exist").errors()[0]["ename"]
    assert len(model_server.model_requests()) == 1  # no fence ran, so no second step


def test_exception_in_ai_code_is_a_traceback_and_is_fed_back(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.script(
        Reply("```py\n1/0\n```"),
        Reply("```py\nfixed = 1\n```"),
        Reply("Fixed it."),
    )
    result = execute(kc, "%%ai\ndivide")
    assert result.status == "ok"
    assert result.errors() and result.errors()[0]["ename"] == "ZeroDivisionError"
    feedback = model_server.model_requests()[1].body_json["messages"][-1]["content"]
    assert "ZeroDivisionError" in feedback
    assert execute(kc, "print(fixed)").stream_text().strip() == "1"


def test_conversation_continues_and_reset_starts_fresh(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.script(Reply("first answer"), Reply("second answer"), Reply("third answer"))
    execute(kc, "%%ai\nfirst question")
    execute(kc, "%%ai\nsecond question")
    second = model_server.model_requests()[1].body_json["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[2]["content"] == "first answer"
    reset = execute(kc, "%ai reset")
    assert "fresh conversation" in reset.all_text()
    execute(kc, "%ai -m openai/other third question")
    third = model_server.model_requests()[2].body_json
    assert [m["role"] for m in third["messages"]] == ["system", "user"]
    assert third["model"] == "other"


def test_step_limit_stops_the_loop(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.script(*[Reply(f"```py\nstep = {i}\n```") for i in range(5)])
    result = execute(kc, "%%ai --max-steps 2\nloop forever")
    assert "step limit" in result.all_text()
    assert len(model_server.model_requests()) == 2
    assert execute(kc, "print(step)").stream_text().strip() == "1"


def test_long_output_is_truncated_with_a_marker(ai_kernel, model_server):
    km, kc = ai_kernel
    model_server.script(Reply("```py\nprint('x' * 50000)\n```"), Reply("ok"))
    execute(kc, "%%ai\nprint a lot")
    feedback = model_server.model_requests()[1].body_json["messages"][-1]["content"]
    assert "characters cut" in feedback
    assert len(feedback) < 10000


def test_bad_options_give_usage_not_a_traceback(ai_kernel):
    km, kc = ai_kernel
    result = execute(kc, "%%ai --max-steps zero\nhello")
    assert result.status == "ok"
    assert "--max-steps needs a positive whole number" in result.stream_text()
