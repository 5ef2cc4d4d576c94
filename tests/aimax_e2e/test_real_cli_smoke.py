"""Smoke tests: the real Claude Code and Codex TUIs, in a private tmux server, answer prompts
from the scripted model server, run a tool when told to, and write both sides of each turn to
their transcripts.

Only tmux, the CLIs and `ScriptedModelServer` are involved (no aimax code), so a failure here
means the environment or the CLIs changed, not our code. Timings are printed (``-s``), never
asserted. Skips with a reason when the pinned CLIs are not installed.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.aimax_e2e.private_tmux import PrivateTmux
from tests.support.agents_env import ClaudeCodeEnv, CodexEnv, claude_code_env, codex_env
from tests.support.model_server import Reply, ScriptedModelServer, ToolCall

pytestmark = pytest.mark.real_agent

PROMPT = "Hello scripted model, please answer with the magic word"
ANSWER_CHUNKS = ["PONG ", "from ", "the ", "scripted ", "server"]
ANSWER = "".join(ANSWER_CHUNKS)
TOOL_PROMPT = "Please write the marker file"
TOOL_COMMAND = "echo tool-ran > marker.txt"
AFTER_TOOL = "The marker file is written."

CLAUDE_READY = "? for shortcuts"
CLAUDE_INPUT = "❯\u00a0"  # the input line; history lines use a normal space
CLAUDE_GOODBYE = "Resume this session with:"
CODEX_INPUT = "› "
CODEX_GOODBYE = "To continue this session, run:"


# -- helpers ---------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Complete, parseable lines only (the writer may be mid-line)."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").split("\n")[:-1]:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout}s")
        time.sleep(0.05)


def input_box_has(prefix: str, text: str, last_only: bool) -> Callable[[str], bool]:
    """A screen predicate: the input line (``prefix`` + ...) contains ``text``."""

    def check(screen: str) -> bool:
        lines = [line for line in screen.splitlines() if line.startswith(prefix)]
        if last_only:
            lines = lines[-1:]
        return any(text in line for line in lines)

    return check


def submit(
    tmux: PrivateTmux,
    pane: str,
    text: str,
    in_input_box: Callable[[str], bool],
    delivered: Callable[[], bool],
) -> int:
    """Paste ``text``, wait until it shows, pause, press Enter; press again only while the
    text is still in the input box and not delivered. Never re-pastes. Returns Enters sent."""
    tmux.paste(pane, text)
    tmux.wait_for_screen(pane, in_input_box, 10, "the pasted text in the input box")
    time.sleep(0.15)
    for enters in range(1, 4):
        tmux.keys(pane, "Enter")
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            if delivered():
                return enters
            time.sleep(0.05)
        if not in_input_box(tmux.screen(pane)):
            return enters  # the box emptied: delivered, just slow to show up
    raise AssertionError("Enter was not accepted three times:\n" + tmux.screen(pane))


def process_state(pid: str) -> str:
    """``R``/``S``/... from /proc, ``Z`` for a zombie, ``gone`` once reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def exit_cleanly(tmux: PrivateTmux, pane: str, input_prefix: str, goodbye: str) -> str | None:
    """Type /exit and Enter (again while ``/exit`` still sits in the input box), wait for the
    process to end and the CLI's goodbye text; returns the exit status (None: not known yet).

    tmux 3.3a sometimes leaves the exited CLI a zombie with ``pane_dead`` still 0 for several
    seconds (see AGENTS_NOTES.md), so the process state counts as well as ``pane_dead``.
    """
    pid = tmux.pane_info(pane, "#{pane_pid}")
    in_box = input_box_has(input_prefix, "/exit", last_only=True)

    def ended() -> bool:
        dead = tmux.pane_info(pane, "#{pane_dead}:#{pane_dead_status}")
        return dead not in ("0:", "1:") or process_state(pid) in ("Z", "gone")

    tmux.keys(pane, "/exit", literal=True)
    tmux.wait_for_screen(pane, in_box, 10, "/exit in the input box")
    for _ in range(3):
        time.sleep(0.3)
        tmux.keys(pane, "Enter")
        try:
            wait_until(ended, 5, "the CLI exiting")
        except TimeoutError as timeout:
            if in_box(tmux.screen(pane)):
                continue  # Enter was dropped
            screen = tmux.screen(pane)
            raise AssertionError("the CLI did not exit after /exit:\n" + screen) from timeout
        tmux.wait_for_screen(pane, lambda s: goodbye in s, 5, goodbye)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            dead, _, status = tmux.pane_info(pane, "#{pane_dead}:#{pane_dead_status}").partition(
                ":"
            )
            if dead == "1" and status:
                return status
            time.sleep(0.05)
        return None
    raise AssertionError("/exit was never accepted:\n" + tmux.screen(pane))


def processes_in(directory: Path) -> list[int]:
    """Live pids whose cwd is ``directory`` (a leftover daemon would show up here)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd") == str(directory):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return [pid for pid in pids if process_state(str(pid)) not in ("Z", "gone")]


# -- launching -------------------------------------------------------------------------------


@dataclass
class RunningClaude:
    agent: ClaudeCodeEnv
    session_id: str
    pane: str
    ready_seconds: float

    @property
    def transcript(self) -> Path:
        return self.agent.transcript_path(self.session_id)

    def entries(self) -> list[dict[str, Any]]:
        return read_jsonl(self.transcript)

    def turns_done(self) -> int:
        return sum(1 for e in self.entries() if e.get("subtype") == "turn_duration")


def launch_claude(
    tmux: PrivateTmux,
    server: ScriptedModelServer,
    claude_bin: str,
    tmp_path: Path,
    cwd: Path | None = None,
) -> RunningClaude:
    cwd = cwd if cwd is not None else tmp_path / "proj"
    agent = claude_code_env(server, tmp_path / "home", cwd.resolve())
    session_id = str(uuid.uuid4())
    started = time.monotonic()
    pane = tmux.start([claude_bin, "--session-id", session_id], agent.env, agent.cwd)
    tmux.wait_for_screen(pane, lambda s: CLAUDE_READY in s, 30, CLAUDE_READY)
    return RunningClaude(agent, session_id, pane, time.monotonic() - started)


def claude_submit(tmux: PrivateTmux, claude: RunningClaude, prompt: str) -> int:
    users_before = sum(1 for e in claude.entries() if e.get("type") == "user")

    def delivered() -> bool:
        return sum(1 for e in claude.entries() if e.get("type") == "user") > users_before

    in_box = input_box_has(CLAUDE_INPUT, prompt[:40], last_only=False)
    return submit(tmux, claude.pane, prompt, in_box, delivered)


@dataclass
class RunningCodex:
    agent: CodexEnv
    pane: str
    ready_seconds: float

    def entries(self) -> list[dict[str, Any]]:
        return [e for path in self.agent.rollout_paths() for e in read_jsonl(path)]

    def completions(self) -> list[dict[str, Any]]:
        return [
            e["payload"]
            for e in self.entries()
            if e["type"] == "event_msg" and e["payload"].get("type") == "task_complete"
        ]


def launch_codex(
    tmux: PrivateTmux, server: ScriptedModelServer, codex_bin: str, tmp_path: Path
) -> RunningCodex:
    agent = codex_env(server, tmp_path / "codex-home", (tmp_path / "proj").resolve())
    started = time.monotonic()
    pane = tmux.start([codex_bin], agent.env, agent.cwd)
    tmux.wait_for_screen(
        pane, lambda s: "for agents" in s and "? for shortcuts" in s, 30, "codex ready"
    )
    return RunningCodex(agent, pane, time.monotonic() - started)


def codex_submit(tmux: PrivateTmux, codex: RunningCodex, prompt: str) -> int:
    def delivered() -> bool:
        return any(
            e["type"] == "response_item"
            and e["payload"].get("role") == "user"
            and prompt in json.dumps(e["payload"])
            for e in codex.entries()
        )

    in_box = input_box_has(CODEX_INPUT, prompt[:40], last_only=True)
    return submit(tmux, codex.pane, prompt, in_box, delivered)


# -- Claude Code -----------------------------------------------------------------------------


def test_claude_code_answers_from_the_scripted_server(
    claude_bin: str, private_tmux: PrivateTmux, tmp_path: Path
) -> None:
    with ScriptedModelServer() as server:
        server.script(Reply(chunks=ANSWER_CHUNKS))
        claude = launch_claude(private_tmux, server, claude_bin, tmp_path)

        entered = time.monotonic()
        enters = claude_submit(private_tmux, claude, PROMPT)
        to_user = time.monotonic() - entered
        wait_until(lambda: claude.turns_done() == 1, 30, "a complete turn in the transcript")
        to_end = time.monotonic() - entered

        entries = claude.entries()
        users = [e for e in entries if e.get("type") == "user"]
        assistants = [e for e in entries if e.get("type") == "assistant"]
        assert users[0]["message"]["content"] == PROMPT
        assert assistants[-1]["message"]["content"] == [{"type": "text", "text": ANSWER}]
        assert {e["sessionId"] for e in users + assistants} == {claude.session_id}

        (turn,) = server.model_requests()
        assert (turn.path, turn.query, turn.api, turn.stream) == (
            "/v1/messages",
            {"beta": "true"},
            "anthropic",
            True,
        )
        assert turn.headers["x-api-key"] == claude.agent.api_key
        assert turn.headers["x-claude-code-session-id"] == claude.session_id
        assert PROMPT in json.dumps(turn.body_json["messages"])
        assert server.pending_steps() == 0
        private_tmux.wait_for_screen(claude.pane, lambda s: ANSWER in s, 10, "the answer")

        status = exit_cleanly(private_tmux, claude.pane, CLAUDE_INPUT, CLAUDE_GOODBYE)
        assert status in ("0", None)
        print(
            f"\nclaude ready={claude.ready_seconds:.2f}s enter->user {to_user:.2f}s "
            f"enter->turn_duration {to_end:.2f}s {enters=} exit={status}"
        )


def test_claude_code_runs_a_tool_and_returns_its_result(
    claude_bin: str, private_tmux: PrivateTmux, tmp_path: Path
) -> None:
    with ScriptedModelServer() as server:
        call = ToolCall(
            "Bash", {"command": TOOL_COMMAND, "description": "Write marker"}, "toolu_s1"
        )
        server.script(Reply("Running it.", tool_calls=[call]), Reply(AFTER_TOOL))
        claude = launch_claude(private_tmux, server, claude_bin, tmp_path)

        claude_submit(private_tmux, claude, TOOL_PROMPT)
        wait_until(lambda: claude.turns_done() == 1, 30, "the tool turn to end")

        assert (claude.agent.cwd / "marker.txt").read_text() == "tool-ran\n"
        first, second = server.model_requests()
        results = [
            block
            for message in second.body_json["messages"]
            if isinstance(message.get("content"), list)
            for block in message["content"]
            if block.get("type") == "tool_result"
        ]
        assert [r["tool_use_id"] for r in results] == ["toolu_s1"]
        entries = claude.entries()
        tool_uses = [
            block
            for e in entries
            if e.get("type") == "assistant"
            for block in e["message"]["content"]
            if block.get("type") == "tool_use"
        ]
        assert tool_uses[0]["input"]["command"] == TOOL_COMMAND
        last_text = [e for e in entries if e.get("type") == "assistant"][-1]["message"]["content"]
        assert last_text == [{"type": "text", "text": AFTER_TOOL}]
        assert exit_cleanly(private_tmux, claude.pane, CLAUDE_INPUT, CLAUDE_GOODBYE) in ("0", None)


def test_claude_code_transcript_path_for_a_long_non_ascii_cwd(
    claude_bin: str, private_tmux: PrivateTmux, tmp_path: Path
) -> None:
    """Over 200 characters Claude cuts the encoded cwd and appends a hash of it: check our
    `encode_claude_project_dir` against the real CLI."""
    cwd = tmp_path / ("déjà vu.dir " * 12) / ("x" * 60)
    assert len(str(cwd)) > 200
    with ScriptedModelServer() as server:
        server.script(Reply(ANSWER))
        claude = launch_claude(private_tmux, server, claude_bin, tmp_path, cwd=cwd)
        claude_submit(private_tmux, claude, PROMPT)
        wait_until(lambda: claude.turns_done() == 1, 30, "the turn in the predicted transcript")
        projects = claude.agent.config_dir / "projects"
        assert [p.name for p in projects.iterdir()] == [claude.transcript.parent.name]
        exit_cleanly(private_tmux, claude.pane, CLAUDE_INPUT, CLAUDE_GOODBYE)


# -- Codex -----------------------------------------------------------------------------------


def test_codex_answers_from_the_scripted_server(
    codex_bin: str, private_tmux: PrivateTmux, tmp_path: Path
) -> None:
    with ScriptedModelServer() as server:
        server.script(Reply(chunks=ANSWER_CHUNKS))
        codex = launch_codex(private_tmux, server, codex_bin, tmp_path)

        entered = time.monotonic()
        enters = codex_submit(private_tmux, codex, PROMPT)
        to_user = time.monotonic() - entered
        (completion,) = wait_until(codex.completions, 30, "task_complete in the rollout")
        to_end = time.monotonic() - entered
        assert completion["last_agent_message"] == ANSWER

        assistant_items = [
            e["payload"]
            for e in codex.entries()
            if e["type"] == "response_item" and e["payload"].get("role") == "assistant"
        ]
        assert assistant_items[-1]["content"][0]["text"] == ANSWER
        (rollout,) = codex.agent.rollout_paths()
        assert list(codex.agent.thread_rollouts().values()) == [rollout]

        (turn,) = server.model_requests()
        assert (turn.path, turn.api, turn.stream) == ("/v1/responses", "responses", True)
        assert turn.headers["authorization"] == "Bearer " + codex.agent.env["LOCAL_API_KEY"]
        assert turn.headers["thread-id"] in rollout.name
        assert PROMPT in json.dumps(turn.body_json["input"])
        assert server.pending_steps() == 0
        private_tmux.wait_for_screen(codex.pane, lambda s: ANSWER in s, 10, "the answer")

        status = exit_cleanly(private_tmux, codex.pane, CODEX_INPUT, CODEX_GOODBYE)
        assert status in ("0", None)
        time.sleep(0.5)
        assert processes_in(codex.agent.cwd) == [], "codex left a process behind (daemon?)"
        print(
            f"\ncodex ready={codex.ready_seconds:.2f}s enter->user {to_user:.2f}s "
            f"enter->task_complete {to_end:.2f}s {enters=} exit={status}"
        )


def test_codex_runs_a_tool_and_returns_its_result(
    codex_bin: str, private_tmux: PrivateTmux, tmp_path: Path
) -> None:
    with ScriptedModelServer() as server:
        call = ToolCall("exec_command", {"cmd": TOOL_COMMAND}, "call_s1")
        server.script(Reply(tool_calls=[call]), Reply(AFTER_TOOL))
        codex = launch_codex(private_tmux, server, codex_bin, tmp_path)

        codex_submit(private_tmux, codex, TOOL_PROMPT)
        (completion,) = wait_until(codex.completions, 30, "the tool turn to complete")

        assert (codex.agent.cwd / "marker.txt").read_text() == "tool-ran\n"
        assert completion["last_agent_message"] == AFTER_TOOL
        first, second = server.model_requests()
        outputs = [
            item for item in second.body_json["input"] if item.get("type") == "function_call_output"
        ]
        assert [o["call_id"] for o in outputs] == ["call_s1"]
        rollout_calls = [
            e["payload"]
            for e in codex.entries()
            if e["type"] == "response_item" and e["payload"].get("type") == "function_call"
        ]
        assert rollout_calls[0]["call_id"] == "call_s1"
        assert exit_cleanly(private_tmux, codex.pane, CODEX_INPUT, CODEX_GOODBYE) in ("0", None)
