"""The ``aimax`` CLI as scripts use it: separate processes, exit codes, JSON output."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid

import pytest

from .conftest import requires_tmux

pytestmark = [requires_tmux, pytest.mark.timeout(180)]


@pytest.fixture
def cli_env(agent_env, tmp_path):
    env = dict(agent_env)
    socket = f"aimax-cli-{uuid.uuid4().hex[:8]}"
    env.update(
        AIMAX_TMUX_SOCKET=socket,
        AIMAX_DATA_DIR=str(tmp_path / "data"),
        AIMAX_CLAUDE_BIN=str(tmp_path / "bin" / "claude"),
        AIMAX_CODEX_BIN=str(tmp_path / "bin" / "codex"),
        AIMAX_READY_TIMEOUT="10",
    )
    yield env
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)


def aimax(env, *args, input=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "aiikernel.aimax.cli", *args],
        env=env,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_create_send_history_status_stop_with_exit_codes(cli_env, workdir):
    base = ["-b", "tmux-claude-code", "-s", "cli1"]
    r = aimax(
        cli_env,
        "create",
        *base,
        "--cwd",
        str(workdir),
        "-p",
        "hi [[reply:ONE]]",
        "--wait",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    created = json.loads(r.stdout)
    assert created["sessionId"] == "cli1" and created["reply"] == "ONE"

    # Prompt from stdin, backend inferred from the session.
    r = aimax(cli_env, "send", "-s", "cli1", "--wait", input="piped\nprompt [[reply:TWO]]\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "TWO"

    prompt_file = workdir.parent / "prompt.txt"
    prompt_file.write_text("from a file [[reply:FILE]]")
    r = aimax(cli_env, "send", "-s", "cli1", "--prompt-file", str(prompt_file), "--wait")
    assert r.returncode == 0 and r.stdout.strip() == "FILE", r.stderr

    r = aimax(cli_env, "history", "-s", "cli1", "--json")
    hist = json.loads(r.stdout)
    assert [e["text"] for e in hist["entries"] if e["kind"] == "assistant"] == [
        "ONE",
        "TWO",
        "FILE",
    ]
    assert [e["text"] for e in hist["entries"] if e["kind"] == "user"][
        1
    ] == "piped\nprompt [[reply:TWO]]\n"
    assert hist["sentinel"] == hist["total"] == len(hist["entries"])

    r = aimax(cli_env, "history", "-s", "cli1", "--json", "--after", str(hist["sentinel"]))
    assert json.loads(r.stdout)["entries"] == []

    r = aimax(cli_env, "status", "-s", "cli1", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["state"] == "idle"

    r = aimax(cli_env, "list", "--json")
    assert [row["session_id"] for row in json.loads(r.stdout)] == ["cli1"]

    r = aimax(cli_env, "create", *base, "--cwd", str(workdir))
    assert r.returncode == 5 and "already running" in r.stderr

    r = aimax(cli_env, "stop", *base, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["killed"] is True
    r = aimax(cli_env, "send", *base, "-p", "anyone?")
    assert r.returncode == 6 and "not running" in r.stderr

    r = aimax(cli_env, "resume", "-s", "cli1")
    assert r.returncode == 0, r.stderr
    r = aimax(cli_env, "send", "-s", "cli1", "-p", "back [[reply:THREE]]", "--wait")
    assert r.stdout.strip() == "THREE"
    aimax(cli_env, "stop", "-s", "cli1")


def test_stream_from_sentinel_in_another_process(cli_env, workdir):
    base = ["-b", "tmux-codex", "-s", "cli2"]
    assert (
        aimax(
            cli_env, "create", *base, "--cwd", str(workdir), "-p", "a [[reply:A]]", "--wait"
        ).returncode
        == 0
    )
    hist = json.loads(aimax(cli_env, "history", *base, "--json").stdout)
    stream = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiikernel.aimax.cli",
            "stream",
            *base,
            "--json",
            "--from-sentinel",
            str(hist["sentinel"]),
            "--until-idle",
        ],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        assert aimax(cli_env, "send", *base, "-p", "b [[reply:B]]").returncode == 0
        out, err = stream.communicate(timeout=30)
    finally:
        if stream.poll() is None:
            stream.send_signal(signal.SIGINT)
            stream.wait(10)
    assert stream.returncode == 0, err
    got = [json.loads(line) for line in out.splitlines()]
    assert got[0]["seq"] == hist["sentinel"] + 1
    assert [e["seq"] for e in got] == list(range(got[0]["seq"], got[0]["seq"] + len(got)))
    assert any(e["kind"] == "assistant" and e["text"] == "B" for e in got)
    assert got[-1]["kind"] == "turn_end"
    aimax(cli_env, "stop", *base)


def test_usage_and_environment_errors_say_what_to_do(cli_env, workdir, tmp_path):
    r = aimax(cli_env, "status", "-s", "ghost")
    assert r.returncode == 3 and "aimax list" in r.stderr

    r = aimax(
        cli_env,
        "create",
        "-b",
        "tmux-claude-code",
        "-s",
        "x",
        "--cwd",
        str(tmp_path / "nope"),
        "-p",
        "hi",
    )
    assert r.returncode == 2 and "does not exist" in r.stderr

    r = aimax(cli_env, "create", "-b", "tmux-claude-code", "-s", "bad/id", "--cwd", str(workdir))
    assert r.returncode == 2 and "invalid session id" in r.stderr

    r = aimax(cli_env, "create", "-b", "no-such-backend", "-s", "x", "--cwd", str(workdir))
    assert r.returncode == 2

    r = aimax(cli_env, "send", "-s", "ghost", "-p", "x", "--prompt-file", "/etc/hostname")
    assert r.returncode == 2 and "not both" in r.stderr

    env = dict(cli_env, AIMAX_CLAUDE_BIN=str(tmp_path / "missing-claude"))
    r = aimax(env, "create", "-b", "tmux-claude-code", "-s", "x", "--cwd", str(workdir))
    assert r.returncode == 4
    assert "not found" in r.stderr and "AIMAX_CLAUDE_BIN" in r.stderr

    env = dict(cli_env, AIMAX_TMUX_BIN=str(tmp_path / "missing-tmux"))
    r = aimax(env, "create", "-b", "tmux-codex", "-s", "x", "--cwd", str(workdir))
    assert r.returncode == 4 and "tmux not found" in r.stderr

    env = dict(cli_env, AIMAX_RUN_PREFLIGHT="0", AIMAX_CODEX_BIN=str(tmp_path / "missing-codex"))
    r = aimax(env, "create", "-b", "tmux-codex", "-s", "x", "--cwd", str(workdir))
    assert r.returncode == 6 and "could not be executed" in r.stderr
    assert "missing-codex" in r.stderr


def test_config_show_lists_every_setting_and_its_variable(cli_env):
    env = dict(cli_env, AIMAX_ENTER_DELAY="0.3")
    r = aimax(env, "config", "show", "--json")
    data = json.loads(r.stdout)
    assert data["enter_delay"] == 0.3 and data["tmux_socket"] == cli_env["AIMAX_TMUX_SOCKET"]
    text = aimax(env, "config", "show").stdout
    for name in (
        "AIMAX_DATA_DIR",
        "AIMAX_CLAUDE_BIN",
        "AIMAX_CODEX_BIN",
        "AIMAX_TMUX_SOCKET",
        "AIMAX_RUN_PREFLIGHT",
        "AIMAX_CODEX_STATE_DB",
    ):
        assert name in text
    bad = aimax(dict(cli_env, AIMAX_ENTER_DELAY="soon"), "config", "show")
    assert bad.returncode == 2 and "AIMAX_ENTER_DELAY" in bad.stderr


def test_pause_interrupts_only_a_running_turn_and_list_shows_states(cli_env, workdir):
    base = ["-b", "tmux-claude-code", "-s", "cli3"]
    assert aimax(cli_env, "create", *base, "--cwd", str(workdir)).returncode == 0
    r = aimax(cli_env, "pause", "-s", "cli3", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["interrupted"] is False
    assert aimax(cli_env, "send", "-s", "cli3", "-p", "long [[think:30]]").returncode == 0
    time.sleep(1.0)
    r = aimax(cli_env, "list")
    assert "cli3" in r.stdout and "working" in r.stdout
    r = aimax(cli_env, "pause", "-s", "cli3")
    assert r.returncode == 0 and r.stdout.strip() == "interrupted"
    r = aimax(cli_env, "status", "-s", "cli3")
    assert r.stdout.strip() == "cli3: idle"
    aimax(cli_env, "stop", "-s", "cli3")
    r = aimax(cli_env, "list")
    assert "stopped" in r.stdout


def _wait_status(env, session: str, word: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        out = aimax(env, "status", "-s", session).stdout
        if word in out:
            return out
    raise AssertionError(f"{session} never showed {word!r}; last: {out}")


def test_answer_approves_or_denies_a_permission_question(cli_env, workdir):
    base = ["-b", "tmux-claude-code", "-s", "cli4"]
    prompt = "go [[permission]] [[reply:AFTER-ANSWER]]"
    assert aimax(cli_env, "create", *base, "--cwd", str(workdir), "-p", prompt).returncode == 0
    r = aimax(cli_env, "answer", "-s", "cli4")
    assert r.returncode == 2 and "--approve" in r.stderr  # one of --approve / --deny
    asked = _wait_status(cli_env, "cli4", "waiting_permission")
    assert "proceed" in asked
    r = aimax(cli_env, "answer", "-s", "cli4", "--approve", "--json")
    assert r.returncode == 0, r.stderr
    answered = json.loads(r.stdout)
    assert answered["approved"] is True and "proceed" in answered["question"]
    _wait_status(cli_env, "cli4", "idle")
    history = aimax(cli_env, "history", "-s", "cli4").stdout
    assert "AFTER-ANSWER" in history
    r = aimax(cli_env, "answer", "-s", "cli4", "--deny")
    assert r.returncode == 2 and "not asking" in r.stderr
    assert aimax(cli_env, "send", "-s", "cli4", "-p", "[[permission]] [[reply:X]]").returncode == 0
    _wait_status(cli_env, "cli4", "waiting_permission")
    r = aimax(cli_env, "answer", "-s", "cli4", "--deny")
    assert r.returncode == 0 and r.stdout.startswith("denied:")
    aimax(cli_env, "stop", "-s", "cli4")


HOSTILE = "\x1b]0;TITLE\x07\x1b]52;c;Y2xpcA==\x07\x1b[2J\x9b31m\rover\x08end\ttab"


def test_history_and_stream_print_terminal_controls_from_transcripts_as_visible_escapes(
    cli_env, workdir
):
    """A reply holding a title set, an OSC 52 clipboard write and a screen clear."""
    cli_env["AIMAX_HOSTILE"] = HOSTILE
    base = ["-b", "tmux-claude-code", "-s", "esc"]
    r = aimax(cli_env, "create", *base, "--cwd", str(workdir), "-p", "[[env:AIMAX_HOSTILE]]")
    assert r.returncode == 0, r.stderr
    try:
        r = aimax(cli_env, "send", *base, "-p", "again [[env:AIMAX_HOSTILE]]", "--wait")
        assert r.returncode == 0, r.stderr
        history = aimax(cli_env, "history", *base)
        stream = aimax(cli_env, "stream", *base, "--from-sentinel", "0", "--until-idle")
        for out in (r.stdout, history.stdout, stream.stdout):
            assert "AIMAX_HOSTILE=" in out
            assert not [
                c for c in out if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0
            ]
            assert (
                "\\x1b]0;TITLE\\x07\\x1b]52;c;Y2xpcA==\\x07\\x1b[2J\\x9b31m\\x0dover\\x08end\ttab"
                in out
            )
        # JSON output keeps the exact text (json escapes the controls).
        hist = json.loads(aimax(cli_env, "history", *base, "--json").stdout)
        assert any(e["text"] == f"AIMAX_HOSTILE={HOSTILE}" for e in hist["entries"])
    finally:
        aimax(cli_env, "stop", *base)
