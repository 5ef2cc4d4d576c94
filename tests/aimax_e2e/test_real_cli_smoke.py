"""Smoke test: the real Claude Code and Codex TUIs, in a private tmux server, answer a prompt
from the scripted model server and write both sides of the turn to their transcripts.

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
from pathlib import Path
from typing import Any

import pytest

from tests.aimax_e2e.private_tmux import PrivateTmux
from tests.support.agents_env import claude_code_env, codex_env
from tests.support.model_server import Reply, ScriptedModelServer

pytestmark = pytest.mark.real_agent

PROMPT = "Hello scripted model, please answer with the magic word"
ANSWER_CHUNKS = ["PONG ", "from ", "the ", "scripted ", "server"]
ANSWER = "".join(ANSWER_CHUNKS)

CLAUDE_READY = "? for shortcuts"
CLAUDE_INPUT = "❯\u00a0"  # the input line; history lines use a normal space
CODEX_INPUT = "› "


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Complete, parseable lines only (the writer may be mid-line)."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    entries = []
    for line in text.split("\n")[:-1]:
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


def submit(
    tmux: PrivateTmux,
    pane: str,
    text: str,
    input_line_has_text: Callable[[str], bool],
    delivered: Callable[[], bool],
) -> int:
    """Paste ``text``, wait until it shows, pause, press Enter; press again only while the
    text is still in the input box and not delivered. Never re-pastes. Returns Enters sent."""
    tmux.paste(pane, text)
    tmux.wait_for_screen(pane, input_line_has_text, 10, "the pasted text in the input box")
    time.sleep(0.15)
    for enters in range(1, 4):
        tmux.keys(pane, "Enter")
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            if delivered():
                return enters
            time.sleep(0.05)
        if not input_line_has_text(tmux.screen(pane)):
            return enters  # the box emptied: delivered, just slow to show up
    raise AssertionError("Enter was not accepted three times:\n" + tmux.screen(pane))


def exit_cleanly(tmux: PrivateTmux, pane: str) -> str:
    """Type /exit, wait for the process to end; returns its exit status."""
    tmux.keys(pane, "/exit", literal=True)
    time.sleep(0.3)
    tmux.keys(pane, "Enter")
    # pane_dead can read 1 a moment before tmux has filled in the status: wait for both.
    outcome = "#{pane_dead}:#{pane_dead_status}#{pane_dead_signal}"
    wait_until(lambda: tmux.pane_info(pane, outcome) not in ("0:", "1:"), 15, "the CLI exiting")
    return tmux.pane_info(pane, "#{pane_dead_status}")


def processes_in(directory: Path) -> list[int]:
    """Pids whose cwd is ``directory`` (a leftover daemon would show up here)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd") == str(directory):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_claude_code_answers_from_the_scripted_server(
    claude_bin: str, private_tmux: PrivateTmux, tmp_path: Path
) -> None:
    with ScriptedModelServer() as server:
        server.script(Reply(chunks=ANSWER_CHUNKS))
        agent = claude_code_env(server, tmp_path / "home", (tmp_path / "proj").resolve())
        session_id = str(uuid.uuid4())
        transcript = agent.transcript_path(session_id)

        started = time.monotonic()
        pane = private_tmux.start([claude_bin, "--session-id", session_id], agent.env, agent.cwd)
        private_tmux.wait_for_screen(pane, lambda s: CLAUDE_READY in s, 30, CLAUDE_READY)
        ready = time.monotonic() - started

        def in_input_box(screen: str) -> bool:
            return any(
                line.startswith(CLAUDE_INPUT) and PROMPT[:40] in line
                for line in screen.splitlines()
            )

        def user_line() -> bool:
            return any(e.get("type") == "user" for e in read_jsonl(transcript))

        entered = time.monotonic()
        enters = submit(private_tmux, pane, PROMPT, in_input_box, user_line)
        to_user = time.monotonic() - entered

        def turn_done() -> list[dict[str, Any]]:
            entries = read_jsonl(transcript)
            ended = any(e.get("subtype") == "turn_duration" for e in entries)
            return entries if ended else []

        entries = wait_until(turn_done, 30, "a complete turn in the transcript")
        to_assistant = time.monotonic() - entered

        users = [e for e in entries if e.get("type") == "user"]
        assistants = [e for e in entries if e.get("type") == "assistant"]
        assert users[0]["message"]["content"] == PROMPT
        assert assistants[-1]["message"]["content"] == [{"type": "text", "text": ANSWER}]
        assert {e["sessionId"] for e in users + assistants} == {session_id}

        (turn,) = server.model_requests()
        assert (turn.path, turn.query, turn.api, turn.stream) == (
            "/v1/messages",
            {"beta": "true"},
            "anthropic",
            True,
        )
        assert turn.headers["x-api-key"] == agent.api_key
        assert PROMPT in json.dumps(turn.body_json["messages"])
        assert server.pending_steps() == 0
        assert [r.kind for r in server.requests].count("title") <= 1
        private_tmux.wait_for_screen(pane, lambda s: ANSWER in s, 10, "the answer on screen")

        assert exit_cleanly(private_tmux, pane) == "0"
        print(
            f"\nclaude {ready=:.2f}s enter->user {to_user:.2f}s "
            f"enter->assistant {to_assistant:.2f}s {enters=}"
        )


def test_codex_answers_from_the_scripted_server(
    codex_bin: str, private_tmux: PrivateTmux, tmp_path: Path
) -> None:
    with ScriptedModelServer() as server:
        server.script(Reply(chunks=ANSWER_CHUNKS))
        agent = codex_env(server, tmp_path / "codex-home", (tmp_path / "proj").resolve())

        started = time.monotonic()
        pane = private_tmux.start([codex_bin], agent.env, agent.cwd)
        private_tmux.wait_for_screen(
            pane, lambda s: "for agents" in s and "? for shortcuts" in s, 30, "codex ready"
        )
        ready = time.monotonic() - started

        def in_input_box(screen: str) -> bool:
            inputs = [line for line in screen.splitlines() if line.startswith(CODEX_INPUT)]
            return bool(inputs) and PROMPT[:40] in inputs[-1]

        def rollout_entries() -> list[dict[str, Any]]:
            return [e for path in agent.rollout_paths() for e in read_jsonl(path)]

        def user_message() -> bool:
            return any(
                e["type"] == "response_item"
                and e["payload"].get("role") == "user"
                and PROMPT in json.dumps(e["payload"])
                for e in rollout_entries()
            )

        entered = time.monotonic()
        enters = submit(private_tmux, pane, PROMPT, in_input_box, user_message)
        to_user = time.monotonic() - entered

        def task_complete() -> dict[str, Any] | None:
            for entry in rollout_entries():
                if entry["type"] == "event_msg" and entry["payload"]["type"] == "task_complete":
                    return entry["payload"]
            return None

        completion = wait_until(task_complete, 30, "task_complete in the rollout")
        to_assistant = time.monotonic() - entered
        assert completion["last_agent_message"] == ANSWER

        assistant_items = [
            e["payload"]
            for e in rollout_entries()
            if e["type"] == "response_item" and e["payload"].get("role") == "assistant"
        ]
        assert assistant_items[-1]["content"][0]["text"] == ANSWER
        (rollout,) = agent.rollout_paths()
        assert list(agent.thread_rollouts().values()) == [rollout]

        (turn,) = server.model_requests()
        assert (turn.path, turn.api, turn.stream) == ("/v1/responses", "responses", True)
        assert turn.headers["authorization"] == "Bearer " + agent.env["LOCAL_API_KEY"]
        assert PROMPT in json.dumps(turn.body_json["input"])
        assert server.pending_steps() == 0
        private_tmux.wait_for_screen(pane, lambda s: ANSWER in s, 10, "the answer on screen")

        assert exit_cleanly(private_tmux, pane) == "0"
        time.sleep(0.5)
        assert processes_in(agent.cwd) == [], "codex left a process behind (daemon?)"
        print(
            f"\ncodex {ready=:.2f}s enter->user {to_user:.2f}s "
            f"enter->task_complete {to_assistant:.2f}s {enters=}"
        )
