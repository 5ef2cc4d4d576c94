"""litellm is configured without touching the user's environment, in a real aiipython kernel.

Every `!command` and subprocess inherits the kernel's `os.environ`, so after the background
warm-up and an AI turn it must hold none of the variables litellm is configured through, while
their effects stay: the bundled cost map, litellm's log handler at ERROR, tokens counted with
the bundled encodings (no network here, so a missing one would raise).
"""

from __future__ import annotations

import json
import time

from tests.support.kernels import execute, model_env, running_kernel
from tests.support.model_steps import Reply

LITELLM_VARIABLES = ("LITELLM_LOCAL_MODEL_COST_MAP", "LITELLM_LOG", "TIKTOKEN_CACHE_DIR")

STATE = (
    f"_keys = {LITELLM_VARIABLES!r}\n"
    + """
import json as _j, logging as _lg, os as _os, subprocess as _sp, sys as _sys
import litellm as _ll
from litellm.litellm_core_utils.get_model_cost_map import _cost_map_source_info as _src
_child = _sp.run([_sys.executable, "-c", "import os, json; print(json.dumps(dict(os.environ)))"],
                 capture_output=True, text=True, check=True).stdout
print(_j.dumps({
    "environ": {k: _os.environ.get(k) for k in _keys},
    "child": {k: _j.loads(_child).get(k) for k in _keys},
    "cost_map": _src.source,
    "log_level": _lg.getLevelName(_ll._logging.handler.level),
    "tokens": _ll.token_counter(model="gpt-4o", messages=[{"role": "user", "content": "hi"}]),
}))
"""
)

WARM_UP_DONE = """
import sys as _s, threading as _t
_busy = [x for x in _t.enumerate() if isinstance(x, _t.Timer) or x.name == "aiikernel-tokenizers"]
print(not _busy and "litellm" in _s.modules)
"""


def kernel_env(server, **extra: str) -> dict[str, str]:
    # litellm inside the kernel (not the model gateway, where the kernel never imports it)
    env = model_env(server, AIIPYTHON_LM_BACKEND="litellm", **extra)
    for key in LITELLM_VARIABLES:
        if key not in extra:
            env.pop(key, None)  # the test runner's own conftest sets one of them
    return env


def state_after_turn(kc, server) -> dict:
    deadline = time.monotonic() + 120
    while execute(kc, WARM_UP_DONE).stream_text().strip() != "True":
        assert time.monotonic() < deadline, "the litellm warm-up never finished"
        time.sleep(0.2)
    server.script(Reply("Fine."))
    turn = execute(kc, "%%ai\nhello", timeout=120)
    assert "Fine." in turn.all_text(), turn.all_text()
    result = execute(kc, STATE, timeout=120)
    assert result.status == "ok", result.all_text()
    return json.loads(result.stream_text().strip().splitlines()[-1])


def test_nothing_leaks_into_the_users_environment(model_server, tmp_path):
    with running_kernel(env=kernel_env(model_server), cwd=tmp_path) as (km, kc):
        state = state_after_turn(kc, model_server)
    nothing = dict.fromkeys(LITELLM_VARIABLES)
    assert state["environ"] == nothing
    assert state["child"] == nothing
    assert state["cost_map"] == "local"
    assert state["log_level"] == "ERROR"
    assert state["tokens"] > 0


def test_the_users_own_settings_are_kept(model_server, tmp_path):
    tiktoken_dir = str(tmp_path / "my-tiktoken-cache")
    env = kernel_env(model_server, LITELLM_LOG="WARNING", TIKTOKEN_CACHE_DIR=tiktoken_dir)
    with running_kernel(env=env, cwd=tmp_path) as (km, kc):
        state = state_after_turn(kc, model_server)
    mine = {"LITELLM_LOCAL_MODEL_COST_MAP": None, "LITELLM_LOG": "WARNING"}
    mine["TIKTOKEN_CACHE_DIR"] = tiktoken_dir
    assert state["environ"] == mine
    assert state["child"] == mine
    assert state["cost_map"] == "local"
    assert state["log_level"] == "WARNING"


COLD_IMPORT = (
    f"_keys = {LITELLM_VARIABLES!r}\n"
    + """
import json, os, threading
from aiikernel.lm.litellm_import import import_litellm
litellm = import_litellm()  # what a first request does when no warm-up ran
for thread in threading.enumerate():
    if thread.name == "aiikernel-tokenizers":
        thread.join(60)
print(json.dumps({
    "environ": {k: os.environ.get(k) for k in _keys},
    "tokens": litellm.token_counter(model="gpt-4o", messages=[{"role": "user", "content": "hi"}]),
}))
"""
)


def test_a_first_request_without_warm_up_leaks_nothing_either(tmp_path):
    import subprocess
    import sys

    env = kernel_env(None)
    proc = subprocess.run(
        [sys.executable, "-c", COLD_IMPORT], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    state = json.loads(proc.stdout.strip().splitlines()[-1])
    assert state["environ"] == dict.fromkeys(LITELLM_VARIABLES)
    assert state["tokens"] > 0  # the gpt-4o encoding came from litellm's copies, offline
