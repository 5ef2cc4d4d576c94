"""The real Claude Code and Codex CLIs driven through aimax, offline.

Each CLI (pinned, installed by ``tests/support/install_agents.sh`` into ``.agents/``) runs with a
throwaway home against a scripted model server on 127.0.0.1. The server answers from
directives in the last user message: ``[[reply:TEXT]]`` replies TEXT, ``[[slow:N]]`` streams for
about N seconds (something to queue behind or to interrupt).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from .conftest import requires_tmux
from .helpers import events, replies, wait_until

support = pytest.importorskip("tests.support.agents_env")
from aiikernel.aimax.config import AimaxConfig  # noqa: E402
from aiikernel.aimax.manager import AimaxManager  # noqa: E402
from tests.support.model_server import ScriptedModelServer  # noqa: E402
from tests.support.model_steps import Reply  # noqa: E402

BINS = support.find_agent_binaries()
pytestmark = [requires_tmux, pytest.mark.real_agent, pytest.mark.timeout(240)]


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_text_of(block) for block in content)
    if isinstance(content, dict):
        return _text_of(content.get("text") or content.get("content") or "")
    return ""


def last_user_text(request) -> str:
    body = request.body_json if isinstance(request.body_json, dict) else {}
    items = body.get("messages") if request.api == "anthropic" else body.get("input")
    for item in reversed(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("role") == "user":
            return _text_of(item.get("content"))
    return ""


def respond(request):
    """Answer from the directives of the newest user message."""
    text = last_user_text(request)
    slow = re.findall(r"\[\[slow:(\d+)\]\]", text)
    if slow:
        seconds = int(slow[-1])
        return Reply(chunks=["."] * (seconds * 5), delay=0.2)
    said = re.findall(r"\[\[reply:([^\]]*)\]\]", text)
    return Reply(said[-1] if said else "(no directive)")


@pytest.fixture
def model_server():
    with ScriptedModelServer() as server:
        server.responder = respond
        yield server


@pytest.fixture
def real(model_server, tmp_path, request):
    """(backend name, caller env, cwd, config) for one real CLI."""
    name = request.param
    cwd = tmp_path / "project"
    if name == "tmux-claude-code":
        if BINS.claude is None:
            pytest.skip("Claude Code not installed (tests/support/install_agents.sh)")
        prepared = support.claude_code_env(model_server, tmp_path / "home", cwd)
    else:
        if BINS.codex is None:
            pytest.skip("Codex not installed (tests/support/install_agents.sh)")
        prepared = support.codex_env(model_server, tmp_path / "codex-home", cwd)
    env = dict(prepared.env)
    config = AimaxConfig.from_env(
        env,
        tmux_socket=f"aimax-real-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path / "aimax-data",
        claude_bin=str(BINS.claude),
        codex_bin=str(BINS.codex),
        ready_timeout=40.0,
        confirm_timeout=15.0,
    )
    return name, env, cwd, config


async def _state(backend, sid, wanted, timeout=30.0):
    async def check():
        status = await backend.status(sid)
        return status if status.state in wanted else None

    return await wait_until(check, timeout, f"{sid} in {wanted}")


@pytest.mark.asyncio
@pytest.mark.parametrize("real", ["tmux-claude-code", "tmux-codex"], indirect=True)
async def test_real_agent_reply_queue_interrupt_stop_resume(real):
    name, env, cwd, config = real
    manager = AimaxManager(config)
    try:
        backend = manager.backend(name)
        handle = await backend.create_new_session(
            {
                "sessionId": "real",
                "cwd": str(cwd),
                "env": env,
                "initialPrompt": "Say hello [[reply:REAL-ONE]]",
            }
        )
        await wait_until(lambda: "REAL-ONE" in replies(backend, "real"), 30, "first reply")
        await _state(backend, "real", {"idle"})
        assert backend.is_alive("real")

        # Queued follow-up: does not interrupt the running turn, answered after it.
        await backend.no_pause_current_and_queue_query_at_session(
            {"sessionId": "real", "prompt": "Take your time [[slow:3]]"}
        )
        await _state(backend, "real", {"working"}, 10)
        await backend.no_pause_current_and_queue_query_at_session(
            {"sessionId": "real", "prompt": "Then this [[reply:REAL-TWO]]"}
        )
        await wait_until(lambda: "REAL-TWO" in replies(backend, "real"), 40, "queued reply")
        said = replies(backend, "real")
        assert said.index("REAL-TWO") > said.index("REAL-ONE")
        assert not any(e["kind"] == "interrupted" for e in events(backend, "real"))
        await _state(backend, "real", {"idle"})

        # Interrupt-and-send: the long stream is cut, the new prompt answered.
        await backend.no_pause_current_and_queue_query_at_session(
            {"sessionId": "real", "prompt": "A very long answer [[slow:60]]"}
        )
        await _state(backend, "real", {"working"}, 10)
        await backend.pause_current_and_resume_from_session(
            {"sessionId": "real", "prompt": "Stop, answer this [[reply:REAL-THREE]]"}
        )
        await wait_until(
            lambda: "REAL-THREE" in replies(backend, "real"), 40, "reply after interrupt"
        )
        users = [e["text"] for e in events(backend, "real") if e["kind"] == "user"]
        # Arrived alone, even when the agent put the interrupted prompt back in the box.
        assert users[-1] == "Stop, answer this [[reply:REAL-THREE]]"
        assert "." * 60 * 5 not in "".join(replies(backend, "real"))
        await _state(backend, "real", {"idle"})

        result = await backend.terminate_session("real")
        assert result["killed"] is True
        assert not backend.is_alive("real")

        resumed = await backend.resume_session("real", env=env)
        assert resumed["agentSessionId"] == handle["agentSessionId"]
        await backend.no_pause_current_and_queue_query_at_session(
            {"sessionId": "real", "prompt": "After resume [[reply:REAL-FOUR]]"}
        )
        await wait_until(lambda: "REAL-FOUR" in replies(backend, "real"), 30, "reply after resume")
        seqs = [e["seq"] for e in events(backend, "real")]
        assert seqs == list(range(1, len(seqs) + 1))
        await backend.terminate_session("real")
    except BaseException:
        await _dump(manager, backend, "real")
        raise
    finally:
        await manager.close()
        await manager.kill_server()


async def _dump(manager, backend, sid):
    """On failure, show what the agent showed and what we recorded."""
    from aiikernel.aimax.tmux import Pane

    record = manager.registry.find(sid)
    if record and record.pane_id:
        screen = await Pane(manager.tmux, record.pane_id).capture()
        print("---- screen\n" + "\n".join(line for line in screen.splitlines() if line.strip()))
    for event in events(backend, sid):
        if event["kind"] != "system":
            print(event["seq"], event["kind"], (event["text"] or "")[:80].replace("\n", " "))


@pytest.mark.asyncio
@pytest.mark.parametrize("real", ["tmux-claude-code", "tmux-codex"], indirect=True)
async def test_real_agent_folder_trust_is_pre_accepted(real, tmp_path):
    """A git repository nobody trusted yet: both CLIs would ask; sessions aimax starts do not."""
    import subprocess

    name, env, _cwd, config = real
    repo = tmp_path / "untrusted-repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    codex_config = Path(env.get("CODEX_HOME", "/nonexistent")) / "config.toml"
    before = codex_config.read_text() if codex_config.exists() else None
    manager = AimaxManager(config)
    try:
        backend = manager.backend(name)
        await backend.create_new_session(
            {
                "sessionId": "trust",
                "cwd": str(repo),
                "env": env,
                "initialPrompt": "hi [[reply:TRUSTED]]",
            }
        )
        await wait_until(lambda: "TRUSTED" in replies(backend, "trust"), 30, "reply")
        if before is not None:  # trust came from -c: no trust entry in the user's config
            assert str(repo) not in codex_config.read_text()
    except BaseException:
        await _dump(manager, backend, "trust")
        raise
    finally:
        await manager.close()
        await manager.kill_server()


@pytest.mark.asyncio
@pytest.mark.parametrize("real", ["tmux-claude-code", "tmux-codex"], indirect=True)
async def test_real_agent_gets_a_100kb_multiline_prompt_as_one_byte_exact_message(real):
    name, env, cwd, config = real
    line = "naïve café — tab\there 'single' \"double\" $HOME `tick` \\ back"
    prompt = "\n".join(f"{i:05d} {line}" for i in range(1500)) + "\n[[reply:BIG-OK]]"
    assert len(prompt.encode()) > 100_000
    manager = AimaxManager(config)
    backend = manager.backend(name)
    try:
        await backend.create_new_session(
            {"sessionId": "big", "cwd": str(cwd), "env": env, "initialPrompt": prompt}
        )
        await wait_until(lambda: "BIG-OK" in replies(backend, "big"), 60, "reply")
        users = [e["text"] for e in events(backend, "big") if e["kind"] == "user"]
        assert len(users) == 1, [u[:80] for u in users]
        # Claude Code itself turns each pasted tab into four spaces (measured with 2.1.197);
        # everything else arrives byte for byte.
        expected = prompt.replace("\t", "    ") if name == "tmux-claude-code" else prompt
        same = users[0] == expected  # not in the assert: pytest would diff 100 KB strings
        assert same, _diff(users[0], expected)
    except BaseException:
        await _dump(manager, backend, "big")
        raise
    finally:
        await manager.close()
        await manager.kill_server()


def _diff(got: str, want: str) -> str:
    for i, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return f"first difference at {i}: {got[i - 15 : i + 15]!r} vs {want[i - 15 : i + 15]!r}"
    return f"lengths {len(got)} vs {len(want)}"


def _last_user_has_tool_result(request) -> bool:
    body = request.body_json if isinstance(request.body_json, dict) else {}
    for item in reversed(body.get("messages") or []):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            return isinstance(content, list) and any(
                isinstance(b, dict) and b.get("type") == "tool_result" for b in content
            )
    return False


@pytest.mark.asyncio
async def test_real_claude_permission_question_is_a_state_and_can_be_answered(
    model_server, tmp_path
):
    """Bash not pre-approved: Claude asks; aimax reports waiting_permission and approves."""
    from tests.support.model_steps import ToolCall

    if BINS.claude is None:
        pytest.skip("Claude Code not installed (tests/support/install_agents.sh)")

    def respond_with_tool(request):
        if _last_user_has_tool_result(request):
            return Reply("TOOL-DONE")
        if "[[bash]]" in last_user_text(request):
            return Reply(
                tool_calls=[
                    ToolCall(
                        "Bash", {"command": "touch made-by-tool", "description": "make a file"}
                    )
                ]
            )
        return respond(request)

    model_server.responder = respond_with_tool
    cwd = tmp_path / "project"
    prepared = support.claude_code_env(model_server, tmp_path / "home", cwd, allow=())
    env = dict(prepared.env)
    config = AimaxConfig.from_env(
        env,
        tmux_socket=f"aimax-real-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path / "data",
        claude_bin=str(BINS.claude),
        ready_timeout=40.0,
    )
    manager = AimaxManager(config)
    backend = manager.backend("tmux-claude-code")
    try:
        await backend.create_new_session(
            {"sessionId": "perm", "cwd": str(cwd), "env": env, "initialPrompt": "go [[bash]]"}
        )
        status = await _state(backend, "perm", {"waiting_permission"}, 30)
        assert "Do you want to proceed?" in status.detail
        assert not (cwd / "made-by-tool").exists()
        await backend.answer_permission("perm", approve=True)
        await wait_until(lambda: "TOOL-DONE" in replies(backend, "perm"), 30, "reply after tool")
        assert (cwd / "made-by-tool").exists()
        kinds = [e["kind"] for e in events(backend, "perm")]
        assert "tool_call" in kinds and "tool_result" in kinds
        await _state(backend, "perm", {"idle"})
    except BaseException:
        await _dump(manager, backend, "perm")
        raise
    finally:
        await manager.close()
        await manager.kill_server()
