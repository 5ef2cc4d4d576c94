"""Sessions end to end against the fake agent TUI in a real (private) tmux server."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest

from aiikernel.aimax.errors import (
    AgentBlocked,
    InvalidOptions,
    SessionExists,
    SessionNotFound,
    SessionNotRunning,
    UnsafeFlagDir,
)
from aiikernel.aimax.manager import AimaxManager

from .conftest import requires_tmux
from .helpers import events, kinds_and_texts, replies, user_texts, wait_idle, wait_until

pytestmark = [requires_tmux, pytest.mark.timeout(120)]

BACKENDS = ["tmux-claude-code", "tmux-codex"]


def create_opts(sid, workdir, env, prompt=None, **extra):
    opts = {"sessionId": sid, "cwd": str(workdir), "env": env, **extra}
    if prompt is not None:
        opts["initialPrompt"] = prompt
    return opts


@pytest.mark.asyncio
@pytest.mark.parametrize("name", BACKENDS)
async def test_lifecycle_reply_queue_interrupt_stop_resume(manager, agent_env, workdir, name):
    backend = manager.backend(name)
    handle = await backend.create_new_session(
        create_opts("life", workdir, agent_env, "first [[reply:ONE]]")
    )
    assert handle["sessionId"] == "life" and handle["paneId"].startswith("%")
    await wait_idle(backend, "life")
    assert replies(backend, "life") == ["ONE"]
    assert handle["agentSessionId"]

    # A follow-up queued while a turn runs is answered after it, without interrupting it.
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "life", "prompt": "slow [[think:1.5]] [[reply:TWO]]"}
    )
    assert (await backend.status("life")).state == "working"
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "life", "prompt": "queued [[reply:THREE]]"}
    )
    await wait_until(lambda: len(replies(backend, "life")) == 3, 15, "three replies")
    assert replies(backend, "life") == ["ONE", "TWO", "THREE"]
    await wait_idle(backend, "life")

    # Interrupt-and-send: the long turn is cut, the new prompt answered.
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "life", "prompt": "very slow [[think:30]] [[reply:NEVER]]"}
    )
    await backend.pause_current_and_resume_from_session(
        {"sessionId": "life", "prompt": "instead [[reply:FOUR]]"}
    )
    await wait_until(lambda: "FOUR" in replies(backend, "life"), 15, "reply FOUR")
    assert "NEVER" not in replies(backend, "life")
    # Arrived alone, although Claude puts a prompt interrupted this early back in its box.
    assert user_texts(backend, "life")[-1] == "instead [[reply:FOUR]]"
    await wait_idle(backend, "life")

    # Interrupted later, the turn is recorded as interrupted.
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "life", "prompt": "slow again [[think:30]] [[reply:NEVER]]"}
    )
    await asyncio.sleep(1.0)
    assert await backend.interrupt("life") is True
    await wait_until(
        lambda: any(e["kind"] == "interrupted" for e in events(backend, "life")), 10, "interrupted"
    )
    await wait_idle(backend, "life")
    assert "NEVER" not in replies(backend, "life")

    before = events(backend, "life")
    result = await backend.terminate_session("life")
    assert result == {"sessionId": "life", "killed": True, "wasWorking": False}
    assert not backend.is_alive("life")
    with pytest.raises(SessionNotRunning):
        await backend.no_pause_current_and_queue_query_at_session(
            {"sessionId": "life", "prompt": "hello?"}
        )

    # Resume continues the same agent conversation and our event log.
    resumed = await backend.resume_session("life", env=agent_env)
    assert resumed["agentSessionId"] == handle["agentSessionId"]
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "life", "prompt": "after resume [[reply:FIVE]]"}
    )
    await wait_until(lambda: "FIVE" in replies(backend, "life"), 15, "reply FIVE")
    after = events(backend, "life")
    assert after[: len(before)] == before  # nothing lost or renumbered
    seqs = [e["seq"] for e in after]
    assert seqs == list(range(1, len(after) + 1))
    await backend.terminate_session("life")


@pytest.mark.asyncio
@pytest.mark.parametrize("name", BACKENDS)
async def test_stopped_mid_turn_then_resumed_is_idle_and_takes_prompts(
    manager, agent_env, workdir, name
):
    """A turn cut off by a stop left "working" signals behind (the submit, the transcript's
    unanswered prompt); the resumed agent runs no turn, so it must read as idle, and Codex
    must get Enter (not the Tab that queues behind a turn): schemathesis found this as a
    session that took no prompt after a resume."""
    backend = manager.backend(name)
    await backend.create_new_session(create_opts("cut", workdir, agent_env, "hi [[reply:ONE]]"))
    await wait_idle(backend, "cut")
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "cut", "prompt": "long [[think:60]] [[reply:NEVER]]"}
    )
    assert (await backend.status("cut")).state == "working"
    await backend.terminate_session("cut")
    await backend.resume_session("cut", env=agent_env)
    assert (await backend.status("cut")).state == "idle"
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "cut", "prompt": "after [[reply:TWO]]"}
    )
    await wait_until(lambda: "TWO" in replies(backend, "cut"), 15, "reply TWO")
    await backend.terminate_session("cut")


@pytest.mark.asyncio
@pytest.mark.parametrize("name", BACKENDS)
async def test_100kb_multiline_prompt_arrives_byte_exact_as_one_message(
    manager, agent_env, workdir, name
):
    backend = manager.backend(name)
    line = "línea ünïcödé \t tab \\ backslash 'quotes' \"dq\" $HOME `tick` ;|&<>\u2028sep"
    prompt = "\n".join(f"{i:05d} {line}" for i in range(1400)) + "\n[[reply:BIG]]"
    assert len(prompt.encode()) > 100_000
    await backend.create_new_session(create_opts("big", workdir, agent_env, prompt))
    await wait_until(lambda: replies(backend, "big") == ["BIG"], 20, "reply BIG")
    got = user_texts(backend, "big")
    assert len(got) == 1, got
    same = got[0] == prompt  # not in the assert: pytest would diff 100 KB strings
    assert same, _first_difference(got[0], prompt)


@pytest.mark.asyncio
async def test_crlf_is_normalised_and_stays_one_message(manager, agent_env, workdir):
    backend = manager.backend("tmux-claude-code")
    await backend.create_new_session(create_opts("crlf", workdir, agent_env))
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "crlf", "prompt": "a\r\nb\rc\n[[reply:OK]]"}
    )
    await wait_until(lambda: replies(backend, "crlf") == ["OK"], 10, "reply")
    assert user_texts(backend, "crlf") == ["a\nb\nc\n[[reply:OK]]"]


@pytest.mark.asyncio
@pytest.mark.parametrize("name", BACKENDS)
async def test_swallowed_enter_is_retried_once_and_never_repasted(
    manager, agent_env, workdir, name
):
    agent_env["AIMAX_FAKE_SCRIPT"] = json.dumps({"swallow_enters": 1, "think": 0.2})
    pastes = []
    manager.set_recorder(pastes.append)
    backend = manager.backend(name)
    await backend.create_new_session(create_opts("swallow", workdir, agent_env))
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "swallow", "prompt": "hello [[reply:GOT]]"}
    )
    delivery = manager.runtime("swallow").last_delivery
    assert delivery.enters == 2
    await wait_until(lambda: replies(backend, "swallow") == ["GOT"], 10, "reply")
    assert user_texts(backend, "swallow") == ["hello [[reply:GOT]]"]
    assert len(pastes) == 1 and pastes[0]["content_length"] == len("hello [[reply:GOT]]")
    # Next prompt: no swallowing left, exactly one Enter.
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "swallow", "prompt": "again [[reply:GOT2]]"}
    )
    assert manager.runtime("swallow").last_delivery.enters == 1


@pytest.mark.asyncio
async def test_codex_enter_too_soon_after_paste_would_be_a_newline(manager, agent_env, workdir):
    """The fake Codex turns an Enter within 120 ms of a paste into a newline; aimax waits."""
    agent_env["AIMAX_FAKE_SCRIPT"] = json.dumps({"enter_newline_window": 0.12})
    backend = manager.backend("tmux-codex")
    await backend.create_new_session(create_opts("cx", workdir, agent_env, "hi [[reply:R]]"))
    assert manager.runtime("cx").last_delivery is None or True
    await wait_until(lambda: replies(backend, "cx") == ["R"], 10, "reply")
    assert user_texts(backend, "cx") == ["hi [[reply:R]]"]


@pytest.mark.asyncio
@pytest.mark.parametrize("name", BACKENDS)
async def test_blocking_screen_is_reported_not_hung(make_manager, agent_env, workdir, name):
    agent_env["AIMAX_FAKE_SCRIPT"] = json.dumps(
        {"blocking_screen": "Choose a colour theme\n> 1. Dark\n  2. Light"}
    )
    backend = make_manager(ready_timeout=2.0).backend(name)
    with pytest.raises(AgentBlocked) as err:
        await backend.create_new_session(create_opts("blk", workdir, agent_env, "hi"))
    assert "Choose a colour theme" in err.value.screen
    status = await backend.status("blk")
    assert status.state == "waiting_input"
    assert "Choose a colour theme" in status.detail
    await backend.terminate_session("blk")


@pytest.mark.asyncio
async def test_permission_prompt_is_a_state_with_its_text(manager, agent_env, workdir):
    backend = manager.backend("tmux-claude-code")
    await backend.create_new_session(
        create_opts("perm", workdir, agent_env, "run it [[permission]] [[reply:DONE]]")
    )

    async def asking():
        status = await backend.status("perm")
        return status if status.state == "waiting_permission" else None

    status = await wait_until(asking, 10, "waiting_permission")
    assert "Do you want to proceed?" in status.detail
    assert not backend.is_job_goal_accomplished("perm")
    question = await backend.answer_permission("perm", approve=True)
    assert "Do you want to proceed?" in question
    await wait_until(lambda: replies(backend, "perm") == ["DONE"], 10, "reply")
    await wait_idle(backend, "perm")
    with pytest.raises(InvalidOptions, match="not asking"):
        await backend.answer_permission("perm", approve=False)


@pytest.mark.asyncio
async def test_job_flags(manager, agent_env, workdir, tmp_path):
    backend = manager.backend("tmux-claude-code")
    flag_root = tmp_path / "flags"
    await backend.create_new_session(
        create_opts("job", workdir, agent_env, "work [[think:0.8]]", flagRoot=str(flag_root))
    )
    running = flag_root / ".imac" / "flags" / "job" / "running.flag"
    assert running.exists() and not backend.is_job_goal_accomplished("job")
    await wait_until(lambda: backend.is_job_goal_accomplished("job"), 10, "job done")
    assert not backend.is_failed("job")
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "job", "prompt": "this fails [[fail]]"}
    )
    await wait_until(lambda: backend.is_failed("job"), 10, "failed.flag")
    assert backend.is_job_goal_accomplished("job")


@pytest.mark.asyncio
async def test_agent_gets_callers_environment_and_session_id(manager, agent_env, workdir):
    agent_env["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:9/custom"
    backend = manager.backend("tmux-claude-code")
    await backend.create_new_session(
        create_opts("envs", workdir, agent_env, "[[env:ANTHROPIC_BASE_URL]]")
    )
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "envs", "prompt": "[[env:AIMAX_SESSION_ID]]"}
    )
    await wait_until(lambda: len(replies(backend, "envs")) == 2, 10, "two replies")
    assert replies(backend, "envs") == [
        "ANTHROPIC_BASE_URL=http://127.0.0.1:9/custom",
        "AIMAX_SESSION_ID=envs",
    ]


@pytest.mark.asyncio
async def test_bad_input_gets_clear_errors(manager, agent_env, workdir, tmp_path):
    backend = manager.backend("tmux-claude-code")
    with pytest.raises(InvalidOptions, match="does not exist"):
        await backend.create_new_session(
            {"sessionId": "x", "cwd": str(tmp_path / "missing"), "env": agent_env}
        )
    with pytest.raises(InvalidOptions, match="invalid session id"):
        await backend.create_new_session({"sessionId": "../evil", "cwd": str(workdir)})
    with pytest.raises(InvalidOptions, match="sesionId|Extra inputs"):
        await backend.create_new_session({"sesionId": "typo", "cwd": str(workdir)})
    with pytest.raises(SessionNotFound):
        await backend.status("nobody")
    await backend.create_new_session(create_opts("dup", workdir, agent_env))
    with pytest.raises(SessionExists):
        await backend.create_new_session(create_opts("dup", workdir, agent_env))
    with pytest.raises(InvalidOptions, match="empty"):
        await backend.no_pause_current_and_queue_query_at_session(
            {"sessionId": "dup", "prompt": "  \n"}
        )


@pytest.mark.asyncio
async def test_stream_resumes_at_sentinel_without_gaps_or_duplicates(manager, agent_env, workdir):
    backend = manager.backend("tmux-claude-code")
    await backend.create_new_session(create_opts("st", workdir, agent_env, "one [[reply:A]]"))
    await wait_idle(backend, "st")
    history = backend.get_history("st")
    sentinel = history["sentinel"]
    got = []
    unsubscribe = backend.get_agent_raw_thought_stream(
        "st", got.append, {"fromSentinel": sentinel - 2}
    )
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "st", "prompt": "two [[reply:B]]"}
    )
    await wait_until(lambda: any(e.text == "B" for e in got), 10, "live event B")
    unsubscribe()
    seqs = [e.seq for e in got]
    assert seqs == list(range(sentinel - 1, sentinel - 1 + len(seqs)))
    assert [e.model_dump(mode="json") for e in got[:2]] == history["entries"][-2:]


@pytest.mark.asyncio
async def test_new_manager_reconciles_and_resumes_tailing(config, agent_env, workdir):
    first = AimaxManager(config)
    second = None
    try:
        backend = first.backend("tmux-codex")
        await backend.create_new_session(create_opts("rec", workdir, agent_env, "hi [[reply:X]]"))
        await wait_idle(backend, "rec")
        before = backend.get_history("rec")
        await first.close()  # the process goes away; the agent keeps running in tmux

        second = AimaxManager(config)
        assert await second.reconcile() == {"rec": "live"}
        b2 = second.backend("tmux-codex")
        assert b2.get_history("rec") == before  # no duplicates from re-reading
        await b2.no_pause_current_and_queue_query_at_session(
            {"sessionId": "rec", "prompt": "again [[reply:Y]]"}
        )
        await wait_until(lambda: replies(b2, "rec") == ["X", "Y"], 10, "reply Y")
        seqs = [e["seq"] for e in b2.get_history("rec")["entries"]]
        assert seqs == list(range(1, len(seqs) + 1))

        # The agent dies while nobody watches: the next reconcile marks it exited.
        status = await b2.status("rec")
        info = (
            await __import__("aiikernel.aimax.tmux", fromlist=["Pane"])
            .Pane(second.tmux, status.pane_id)
            .info()
        )
        os.kill(info.pid, signal.SIGKILL)
        await wait_until(lambda: _dead(second, status.pane_id), 10, "pane dead")
        assert await second.reconcile() == {"rec": "exited"}
        assert (await b2.status("rec")).state == "exited"
        assert second.registry.get("rec").status == "exited"
    finally:
        if second is not None:
            await second.close()
        await first.close()
        await first.kill_server()


async def _dead(manager, pane_id):
    for info in await manager.tmux.list_panes():
        if info.pane_id == pane_id:
            return info.dead
    return True


@pytest.mark.asyncio
async def test_concurrent_sends_are_serialised_per_session(manager, agent_env, workdir):
    backend = manager.backend("tmux-claude-code")
    await backend.create_new_session(create_opts("conc", workdir, agent_env))
    prompts = [f"msg {i} [[reply:R{i}]] [[think:0.1]]" for i in range(4)]
    await asyncio.gather(
        *(
            backend.no_pause_current_and_queue_query_at_session({"sessionId": "conc", "prompt": p})
            for p in prompts
        )
    )
    await wait_until(lambda: len(replies(backend, "conc")) == 4, 20, "four replies")
    assert sorted(user_texts(backend, "conc")) == sorted(prompts)
    assert kinds_and_texts(backend, "conc", kinds=("user",)) == [
        ("user", p) for p in user_texts(backend, "conc")
    ]


def _first_difference(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"at {i}: {a[i - 20 : i + 20]!r} vs {b[i - 20 : i + 20]!r}"
    return f"lengths {len(a)} vs {len(b)}"


@pytest.mark.asyncio
async def test_worktree_per_session_removed_on_stop_branch_kept(manager, agent_env, tmp_path):
    import subprocess

    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@e", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "sub" / "f.txt").write_text("x")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    backend = manager.backend("tmux-claude-code")
    handle = await backend.create_new_session(
        {"sessionId": "wt", "cwd": str(repo / "sub"), "env": agent_env, "worktree": True}
    )
    cwd = handle["cwd"]
    assert cwd != str(repo / "sub") and cwd.endswith("/sub")
    assert (await backend.status("wt")).cwd == cwd
    record = manager.registry.get("wt")
    assert record.worktree_branch == "aimax/wt"
    await backend.terminate_session("wt")
    assert not os.path.exists(record.worktree_path)
    branches = subprocess.run(
        [*git, "branch", "--list", "aimax/wt"], capture_output=True, text=True
    )
    assert "aimax/wt" in branches.stdout
    with pytest.raises(InvalidOptions, match="git repository"):
        await backend.create_new_session(
            {"sessionId": "nowt", "cwd": str(tmp_path), "env": agent_env, "worktree": True}
        )

    # A checkout whose committed .imac is a symlink: refused, and the checkout taken back.
    (repo / "sub" / ".imac").symlink_to(tmp_path, target_is_directory=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "link"], check=True)
    with pytest.raises(UnsafeFlagDir):
        await backend.create_new_session(
            {"sessionId": "wt2", "cwd": str(repo / "sub"), "env": agent_env, "worktree": True}
        )
    assert list((manager.data_dir / "worktrees").iterdir()) == []


@pytest.mark.asyncio
async def test_claude_clear_switches_transcript_and_history_continues(manager, agent_env, workdir):
    backend = manager.backend("tmux-claude-code")
    handle = await backend.create_new_session(
        create_opts("clr", workdir, agent_env, "before [[reply:OLD]]")
    )
    await wait_until(lambda: replies(backend, "clr") == ["OLD"], 10, "first reply")
    got = []
    unsubscribe = backend.get_agent_raw_thought_stream("clr", got.append)
    await wait_idle(backend, "clr")
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "clr", "prompt": "/clear"}
    )
    await wait_until(
        lambda: manager.registry.get("clr").agent_session_id != handle["agentSessionId"],
        10,
        "new Claude session id",
    )
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "clr", "prompt": "after [[reply:NEW]]"}
    )
    await wait_until(lambda: replies(backend, "clr") == ["OLD", "NEW"], 10, "reply in new file")
    await wait_until(lambda: any(e.text == "NEW" for e in got), 10, "live event from new file")
    unsubscribe()
    record = manager.registry.get("clr")
    assert record.transcript_path != handle["jsonlPath"]
    seqs = [e["seq"] for e in events(backend, "clr")]
    assert seqs == list(range(1, len(seqs) + 1))
    await wait_idle(backend, "clr")


@pytest.mark.asyncio
async def test_codex_new_switches_thread_and_history_continues(manager, agent_env, workdir):
    backend = manager.backend("tmux-codex")
    await backend.create_new_session(create_opts("cnew", workdir, agent_env, "one [[reply:OLD]]"))
    await wait_until(lambda: replies(backend, "cnew") == ["OLD"], 10, "first reply")
    first = manager.registry.get("cnew")
    assert first.agent_session_id and first.transcript_path
    got = []
    unsubscribe = backend.get_agent_raw_thought_stream("cnew", got.append)
    await wait_idle(backend, "cnew")
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "cnew", "prompt": "/new"}
    )
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "cnew", "prompt": "two [[reply:NEW]]"}
    )
    await wait_until(lambda: replies(backend, "cnew") == ["OLD", "NEW"], 10, "reply in new rollout")
    await wait_until(lambda: any(e.text == "NEW" for e in got), 10, "live event from new rollout")
    unsubscribe()
    record = manager.registry.get("cnew")
    assert record.agent_session_id not in (None, first.agent_session_id)
    assert record.transcript_path not in (None, first.transcript_path)
    seqs = [e["seq"] for e in events(backend, "cnew")]
    assert seqs == list(range(1, len(seqs) + 1))
    await wait_idle(backend, "cnew")
    # A resume goes back to the new thread.
    await backend.terminate_session("cnew")
    await backend.resume_session("cnew", env=agent_env)
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "cnew", "prompt": "three [[reply:RESUMED]]"}
    )
    await wait_until(
        lambda: replies(backend, "cnew") == ["OLD", "NEW", "RESUMED"], 10, "reply after resume"
    )
    assert manager.registry.get("cnew").transcript_path == record.transcript_path


@pytest.mark.asyncio
async def test_a_restarted_tmux_server_reusing_pane_ids_is_not_mistaken(
    manager, agent_env, workdir
):
    backend = manager.backend("tmux-claude-code")
    first = await backend.create_new_session(create_opts("one", workdir, agent_env))
    await manager.kill_server()  # e.g. the machine rebooted: every agent is gone
    second = await backend.create_new_session(create_opts("two", workdir, agent_env))
    assert second["paneId"] == first["paneId"]  # tmux numbers panes from %0 again
    status = await backend.status("one")
    assert status.state == "exited" and not status.alive
    assert (await backend.status("two")).alive
    assert await manager.reconcile() == {"two": "live"}
    # Stopping or resuming the old session must not touch the pane that now belongs to "two".
    assert (await backend.terminate_session("one"))["killed"] is False
    await backend.resume_session("one", env=agent_env)
    assert (await backend.status("two")).alive and (await backend.status("one")).alive


@pytest.mark.asyncio
async def test_use_proxy_wraps_the_agent_in_proxychains_with_proxy_env(
    make_manager, agent_env, workdir, tmp_path
):
    marker = tmp_path / "proxied.txt"
    fake = tmp_path / "bin" / "proxychains"
    fake.write_text(f'#!/bin/sh\necho "$@" > {marker}\nshift 3\nexec "$@"\n')
    fake.chmod(0o755)
    proxy_env = tmp_path / "proxy_envs.bash"
    proxy_env.write_text("export HTTPS_PROXY=socks5://127.0.0.1:9\n")
    manager = make_manager(proxychains_bin=str(fake), proxy_envs_bash=proxy_env)
    backend = manager.backend("tmux-claude-code")
    await backend.create_new_session(
        create_opts("px", workdir, agent_env, "[[env:HTTPS_PROXY]]", useProxy=True)
    )
    await wait_until(lambda: replies(backend, "px"), 10, "reply")
    assert replies(backend, "px") == ["HTTPS_PROXY=socks5://127.0.0.1:9"]
    args = marker.read_text().split()
    assert args[:3] == ["-q", "-f", str(manager.config.proxy_chains_conf)]
    assert args[3].endswith("claude")


@pytest.mark.asyncio
async def test_monitor_notices_an_agent_that_died(manager, agent_env, workdir):
    backend = manager.backend("tmux-codex")
    await backend.create_new_session(create_opts("mon", workdir, agent_env))
    manager.start_monitor()
    pid = (await manager.pane_info(manager.registry.get("mon").pane_id)).pid
    os.kill(pid, signal.SIGKILL)
    await wait_until(lambda: manager.registry.get("mon").status == "exited", 10, "marked exited")
    # tmux may report the death before its status; when it has it, it is the signal.
    assert manager.registry.get("mon").exit_status in (None, 128 + signal.SIGKILL)


@pytest.mark.asyncio
async def test_a_prompt_that_makes_the_agent_exit_is_delivered_not_an_error(
    manager, agent_env, workdir
):
    backend = manager.backend("tmux-codex")
    await backend.create_new_session(create_opts("bye", workdir, agent_env))
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "bye", "prompt": "/exit"}
    )
    status = await wait_until(_exited(backend, "bye"), 10, "exited")
    assert status.state == "exited"


def _exited(backend, sid):
    async def check():
        status = await backend.status(sid)
        return status if status.state == "exited" else None

    return check


@pytest.mark.asyncio
async def test_many_sessions_created_and_driven_concurrently(manager, agent_env, workdir):
    names = [(f"c{i}", BACKENDS[i % 2]) for i in range(8)]
    await asyncio.gather(
        *(
            manager.backend(b).create_new_session(create_opts(sid, workdir, agent_env))
            for sid, b in names
        )
    )
    await asyncio.gather(
        *(
            manager.backend(b).no_pause_current_and_queue_query_at_session(
                {"sessionId": sid, "prompt": f"who [[reply:I-AM-{sid}]]"}
            )
            for sid, b in names
        )
    )
    for sid, b in names:
        backend = manager.backend(b)
        await wait_until(lambda: replies(backend, sid) == [f"I-AM-{sid}"], 20, sid)  # noqa: B023
    panes = {p.tag for p in await manager.tmux.list_panes()}
    assert panes == {sid for sid, _ in names}


@pytest.mark.asyncio
async def test_a_pane_listed_before_its_tag_is_not_taken_for_a_stranger(
    manager, agent_env, workdir
):
    """The monitor may list a new pane in the instant before ``new_window`` tags it; a status
    call reusing that cached list once took the untagged pane for another program's and
    marked a session exited right after it started (the parallel create/send flake)."""
    from aiikernel.aimax.tmux import SESSION_OPTION, Pane

    backend = manager.backend("tmux-codex")
    handle = await backend.create_new_session(create_opts("tag", workdir, agent_env))
    pane = Pane(manager.tmux, handle["paneId"])
    await pane.window_option(SESSION_OPTION, "")
    await manager.panes()  # the monitor's cached list: the pane, not yet tagged
    await pane.window_option(SESSION_OPTION, "tag")
    assert (await manager.pane_info(handle["paneId"], max_age=60, tag="tag")) is not None
    assert (await manager.pane_info(handle["paneId"], max_age=60, tag="other")) is None
    assert (await backend.status("tag")).state == "idle"
    await backend.no_pause_current_and_queue_query_at_session(
        {"sessionId": "tag", "prompt": "still here [[reply:OK]]"}
    )
    await wait_until(lambda: "OK" in replies(backend, "tag"), 15, "reply OK")
    await backend.terminate_session("tag")
