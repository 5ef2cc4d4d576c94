"""Unit tests of aimax's pure parts: config, options, screen reading, state, registry, hooks."""

from __future__ import annotations

import json
import os
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from aiikernel.aimax.claude_code import accept_folder_trust, hook_command, hook_settings
from aiikernel.aimax.codex import notify_argv
from aiikernel.aimax.config import AimaxConfig, env_name, field_help
from aiikernel.aimax.errors import ConfigError, InvalidOptions, SessionNotFound, UnsafeFlagDir
from aiikernel.aimax.flags import JobFlags
from aiikernel.aimax.options import CreateOptions, SendOptions, parse_options
from aiikernel.aimax.registry import Registry, SessionRecord
from aiikernel.aimax.screen import CLAUDE_MARKERS, CODEX_MARKERS, dead_status_shown, read_screen
from aiikernel.aimax.spawn import launch_argv, read_env_file, write_env_file
from aiikernel.aimax.state import Signal, StateFile, decide

# -- config -------------------------------------------------------------------------------------


def test_config_defaults_follow_home_and_env_overrides_win(tmp_path):
    env = {"HOME": str(tmp_path), "CODEX_HOME": str(tmp_path / "cx")}
    cfg = AimaxConfig.from_env(env)
    assert cfg.data_dir == tmp_path / ".local" / "share" / "aimax"
    assert cfg.claude_projects_dir == tmp_path / ".claude" / "projects"
    assert cfg.codex_state_db == tmp_path / "cx" / "state_5.sqlite"
    assert cfg.run_preflight is True and cfg.tmux_socket == "aimax"
    env.update(
        AIMAX_DATA_DIR=str(tmp_path / "d"),
        AIMAX_RUN_PREFLIGHT="0",
        AIMAX_CLAUDE_BIN="/opt/claude",
        AIMAX_TMUX_SOCKET="mine",
        AIMAX_CONFIRM_TIMEOUT="3.5",
    )
    cfg = AimaxConfig.from_env(env)
    assert cfg.data_dir == tmp_path / "d"
    assert (cfg.run_preflight, cfg.claude_bin, cfg.tmux_socket) == (False, "/opt/claude", "mine")
    assert cfg.confirm_timeout == 3.5


def test_config_rejects_bad_values_naming_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="AIMAX_RUN_PREFLIGHT"):
        AimaxConfig.from_env({"HOME": str(tmp_path), "AIMAX_RUN_PREFLIGHT": "maybe"})


def test_every_config_field_is_documented():
    helps = field_help()
    assert all(helps.values()), [k for k, v in helps.items() if not v]
    assert env_name("claude_bin") == "AIMAX_CLAUDE_BIN"
    doc = (Path(__file__).parents[2] / "docs" / "aimax.md").read_text(encoding="utf-8")
    missing = [env_name(k) for k in helps if env_name(k) not in doc]
    assert not missing, f"docs/aimax.md does not mention {missing}"


# -- options ------------------------------------------------------------------------------------


def test_options_accept_camel_and_snake_case():
    camel = parse_options(
        CreateOptions,
        {
            "sessionId": "a-1",
            "cwd": "/tmp",
            "initialPrompt": "hi",
            "flagRoot": "/f",
            "useProxy": True,
            "displayName": "A",
            "agentSessionId": "u",
            "model": "m",
        },
    )
    snake = CreateOptions(
        session_id="a-1",
        cwd="/tmp",
        initial_prompt="hi",
        flag_root="/f",
        use_proxy=True,
        display_name="A",
        agent_session_id="u",
        model="m",
    )
    assert camel == snake


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "-lead", "x" * 65, "sp ace", "semi;colon"])
def test_session_ids_are_restricted(bad):
    with pytest.raises(InvalidOptions, match="session"):
        parse_options(SendOptions, {"sessionId": bad, "prompt": "hi"})


def test_unknown_option_keys_are_errors_not_silently_dropped():
    with pytest.raises(InvalidOptions, match="promt"):
        parse_options(SendOptions, {"sessionId": "a", "promt": "typo"})


# -- screen -------------------------------------------------------------------------------------


def test_claude_screen_ready_busy_and_input_box():
    ready = "❯\u00a0\x1b[7m \x1b[0m\n  ? for shortcuts · ← for agents"
    reading = read_screen(ready, CLAUDE_MARKERS)
    assert (reading.ready, reading.busy, reading.input_text) == (True, False, "")
    typed = read_screen("❯\u00a0[Pasted text #1 +41 lines]\n  ? for shortcuts", CLAUDE_MARKERS)
    assert typed.input_text == "[Pasted text #1 +41 lines]"
    busy = read_screen("❯\u00a0\n  esc to interrupt · ← for agents", CLAUDE_MARKERS)
    assert busy.busy and not busy.ready


def test_codex_dim_placeholder_is_an_empty_box_but_typed_text_is_not():
    placeholder = (
        "\x1b[1m›\x1b[0m \x1b[2mAsk Codex to do anything\n  ← for agents · ? for shortcuts"
    )
    assert read_screen(placeholder, CODEX_MARKERS).input_text == ""
    typed = "\x1b[1m›\x1b[0m hello\n  ← for agents · ? for shortcuts"
    assert read_screen(typed, CODEX_MARKERS).input_text == "hello"


def test_permission_prompt_and_dialogs_are_recognised():
    perm = read_screen("Bash command\n\nDo you want to proceed?\n❯ 1. Yes\n  2. No", CLAUDE_MARKERS)
    assert perm.permission.startswith("Do you want to proceed?") and "1. Yes" in perm.permission
    dialog = read_screen("Meet the new model\n› 1. Try it\n  2. Keep mine", CLAUDE_MARKERS)
    assert dialog.blocked and "Meet the new model" in dialog.excerpt


# -- state --------------------------------------------------------------------------------------


def _screen(text="❯\u00a0\n  ? for shortcuts"):
    return read_screen(text, CLAUDE_MARKERS)


def test_state_decision_prefers_newest_timed_signal_and_screen_only_for_dialogs():
    now = time.time()
    working = Signal("working", now - 1)
    idle = Signal("idle", now, source="transcript")
    assert (
        decide(dead=False, screen=_screen(), hook=working, transcript=idle, seen_ready=True)[0]
        == "idle"
    )
    assert (
        decide(
            dead=False,
            screen=_screen(),
            hook=Signal("working", now + 1),
            transcript=idle,
            seen_ready=True,
        )[0]
        == "working"
    )
    assert (
        decide(dead=True, screen=_screen(), hook=working, transcript=None, seen_ready=True)[0]
        == "exited"
    )
    perm = _screen("Do you want to proceed?\n❯ 1. Yes")
    state, detail, source = decide(
        dead=False, screen=perm, hook=idle, transcript=None, seen_ready=True
    )
    assert (state, source) == ("waiting_permission", "screen") and "proceed" in detail
    dialog = _screen("Choose a theme\n 1. Dark")
    assert (
        decide(dead=False, screen=dialog, hook=None, transcript=None, seen_ready=True)[0]
        == "waiting_input"
    )
    assert (
        decide(dead=False, screen=dialog, hook=None, transcript=None, seen_ready=False)[0]
        == "starting"
    )
    assert (
        decide(dead=False, screen=_screen(), hook=None, transcript=None, seen_ready=True)[0]
        == "idle"
    )


def test_claude_hook_command_appends_timed_lines_the_state_file_understands(tmp_path):
    state = StateFile(tmp_path / "s p a c e" / "state.jsonl")
    state.path.parent.mkdir()
    payload = {
        "hook_event_name": "Notification",
        "notification_type": "permission_prompt",
        "message": "Claude needs your permission to use Bash",
        "session_id": "x",
    }
    subprocess.run(
        ["/bin/sh", "-c", hook_command(state.path)],
        input=json.dumps(payload, indent=2),
        text=True,
        check=True,
    )
    signal = state.read()
    assert signal.state == "waiting_permission" and "permission" in signal.detail
    assert abs(signal.at - time.time()) < 5
    subprocess.run(
        ["/bin/sh", "-c", hook_command(state.path)],
        input=json.dumps({"hook_event_name": "Stop"}),
        text=True,
        check=True,
    )
    assert state.read().state == "idle"
    settings = hook_settings(
        state.path,
        {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "mine"}]}]}, "model": "x"},
    )
    assert settings["model"] == "x" and len(settings["hooks"]["Stop"]) == 2


def test_codex_notify_is_valid_toml_and_ignores_other_threads(tmp_path):
    state = StateFile(tmp_path / "state.jsonl")
    argv = notify_argv(state.path)
    toml = "notify = [" + ", ".join(json.dumps(a) for a in argv) + "]"
    assert tomllib.loads(toml)["notify"] == argv
    for thread in ("other-thread", "my-thread"):
        payload = {"type": "agent-turn-complete", "thread-id": thread}
        subprocess.run([*argv, json.dumps(payload)], check=True)
    state.note("submit", at=time.time() - 10)
    assert state.read("my-thread").state == "idle"
    assert state.offset == state.path.stat().st_size


# -- registry, flags, trust, launcher -------------------------------------------------------------


def _record(sid="s1", **kw):
    base = dict(
        session_id=sid,
        backend="tmux-claude-code",
        cwd="/tmp",
        flag_root="/tmp",
        created_at=time.time(),
    )
    base.update(kw)
    return SessionRecord(**base)


def test_registry_roundtrip_archive_and_no_temp_files_left(tmp_path):
    reg = Registry(tmp_path)
    reg.put(_record("a"))
    reg.put(_record("b"))
    reg.update("a", lambda r: r.model_copy(update={"pane_id": "%3"}))
    assert reg.get("a").pane_id == "%3"
    reg.archive("b", status="stopped")
    assert set(reg.live()) == {"a"} and reg.archived()["b"].status == "stopped"
    assert reg.get("b").status == "stopped"
    reg.put(_record("b"))  # re-created: leaves the archive
    assert "b" not in reg.archived()
    with pytest.raises(SessionNotFound):
        reg.get("zzz")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert oct(reg.path.stat().st_mode & 0o777) == "0o600"


def test_registry_survives_a_damaged_file_without_losing_it(tmp_path):
    reg = Registry(tmp_path)
    reg.path.write_text("{not json")
    assert reg.live() == {}
    assert list(tmp_path.glob("registry.json.corrupt-*"))


def test_job_flags_contract(tmp_path):
    flags = JobFlags(tmp_path, "s1")
    assert not flags.is_accomplished()
    flags.arm()
    assert flags.is_running() and not flags.is_accomplished()
    (flags.dir / "running.flag").unlink()
    assert flags.is_accomplished() and not flags.is_failed()
    (flags.dir / "failed.flag").write_text("x")
    assert flags.is_failed()
    flags.arm()
    assert not flags.is_failed()
    assert flags.dir == tmp_path / ".imac" / "flags" / "s1"


def test_job_flags_are_private_hold_no_prompt_and_never_follow_links(tmp_path):
    old = os.umask(0o022)
    try:
        flags = JobFlags(tmp_path / "p", "s1")
        (tmp_path / "p").mkdir()
        flags.arm()
        running = flags.dir / "running.flag"
        assert running.stat().st_mode & 0o777 == 0o600
        assert flags.dir.stat().st_mode & 0o777 == 0o700
        float(running.read_text())  # the time of the submit, nothing else
        outside = tmp_path / "outside"
        outside.mkdir()
        for link in (".imac", ".imac/flags", ".imac/flags/s2"):
            project = tmp_path / link.replace("/", "_")
            (project / link).parent.mkdir(parents=True)
            (project / link).symlink_to(outside, target_is_directory=True)
            linked = JobFlags(project, "s2")
            with pytest.raises(UnsafeFlagDir, match="symbolic link"):
                linked.arm()
            with pytest.raises(UnsafeFlagDir):
                linked.prepare()
            assert not linked.is_running() and not linked.is_accomplished()
        assert list(outside.iterdir()) == []
    finally:
        os.umask(old)


def test_the_state_file_is_created_private_by_aimax_and_by_hook_shells(tmp_path):
    old = os.umask(0o022)
    try:
        state = StateFile(tmp_path / "a" / "state.jsonl")
        state.note("submit")
        assert state.path.stat().st_mode & 0o777 == 0o600
        older = StateFile(tmp_path / "b" / "state.jsonl")
        older.path.parent.mkdir()
        older.path.write_text("")
        older.path.chmod(0o644)
        older.ensure()
        assert older.path.stat().st_mode & 0o777 == 0o600
        for i, argv in enumerate(
            (["/bin/sh", "-c", hook_command(tmp_path / "h.jsonl")], notify_argv(tmp_path / "n"))
        ):
            subprocess.run([*argv, "{}"] if i else argv, input="{}", text=True, check=True)
        for name in ("h.jsonl", "n"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        os.umask(old)


def test_folder_trust_keeps_the_users_other_keys(tmp_path):
    config = tmp_path / ".claude.json"
    config.write_text(json.dumps({"theme": "dark", "projects": {"/other": {"x": 1}}}))
    os.chmod(config, 0o640)
    accept_folder_trust(config, str(tmp_path), tmp_path / "locks")
    data = json.loads(config.read_text())
    assert data["theme"] == "dark" and data["projects"]["/other"] == {"x": 1}
    entry = data["projects"][os.path.realpath(tmp_path)]
    assert entry["hasTrustDialogAccepted"] is True and entry["projectOnboardingSeenCount"] == 1
    assert config.stat().st_mode & 0o777 == 0o640
    config.write_text("{broken")
    accept_folder_trust(config, str(tmp_path), tmp_path / "locks")
    assert config.read_text() == "{broken"  # never clobber what we cannot read


def test_launcher_gives_the_exact_environment_and_deletes_its_file(tmp_path):
    env = {"PATH": os.environ["PATH"], "ONLY_THIS": "yes", "SECRET": "k"}
    env_file = write_env_file(tmp_path, env)
    assert env_file.stat().st_mode & 0o777 == 0o600
    out = subprocess.run(launch_argv(env_file, ["env"]), capture_output=True, text=True, check=True)
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines())
    assert lines == env
    assert not env_file.exists()


def test_env_files_are_parsed_like_shell_assignments(tmp_path):
    path = tmp_path / "x.env"
    path.write_text("# comment\nexport A=1\nB='two words'\nC=\"3\"\n\nbad line\n")
    assert read_env_file(path) == {"A": "1", "B": "two words", "C": "3"}
    assert read_env_file(tmp_path / "missing") == {}


def test_hooks_count_in_file_order_and_a_reliable_idle_screen_overrules_stale_working(tmp_path):
    state = StateFile(tmp_path / "state.jsonl")
    now = time.time()
    with open(state.path, "w") as f:  # two hook shells finished in this order, stamped reversed
        f.write(f"{now:.6f}\t{json.dumps({'hook_event_name': 'UserPromptSubmit'})}\n")
        f.write(f"{now - 0.05:.6f}\t{json.dumps({'hook_event_name': 'Stop'})}\n")
    assert state.read().state == "idle"
    state.note("submit", at=now - 10)  # an old submit note does not win over newer hooks
    assert state.read().state == "idle"

    working = Signal("working", now - 5)
    ready = _screen()
    args = dict(dead=False, screen=ready, hook=working, transcript=None, seen_ready=True, now=now)
    assert decide(**args, screen_reliable=True)[:3:2] == ("idle", "screen")
    assert decide(**args, screen_reliable=False)[0] == "working"
    fresh = dict(args, hook=Signal("working", now - 0.5))
    assert decide(**fresh, screen_reliable=True)[0] == "working"


def test_importing_aimax_and_its_cli_stays_light():
    """`aimax --help` and `import aiikernel.aimax` must not pay for pydantic, watchfiles, …"""
    code = (
        "import sys, aiikernel.aimax, aiikernel.aimax.cli\n"
        "heavy = [m for m in ('pydantic', 'watchfiles', 'litellm', 'jupyter_server', 'sqlite3')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("bad", ["a\x1b[201~\r/exit\r", "x\x00", "\x03", "q\x85r", "a\x7f"])
def test_prompts_with_terminal_control_characters_are_refused(bad):
    with pytest.raises(InvalidOptions, match="control character"):
        parse_options(SendOptions, {"sessionId": "a", "prompt": bad})
    with pytest.raises(InvalidOptions, match="control character"):
        parse_options(CreateOptions, {"sessionId": "a", "cwd": "/tmp", "initialPrompt": bad})
    ok = parse_options(SendOptions, {"sessionId": "a", "prompt": "tab\tand\r\nlines\u2028é"})
    assert ok.prompt == "tab\tand\r\nlines\u2028é"


def test_backends_are_found_by_name_and_unknown_names_list_the_choices(tmp_path):
    from aiikernel.aimax.backends import SUPPORTED_BACKENDS, backend_class
    from aiikernel.aimax.errors import UnknownBackend
    from aiikernel.aimax.manager import AimaxManager

    assert SUPPORTED_BACKENDS == ("tmux-claude-code", "tmux-codex")
    assert backend_class("tmux-codex").__name__ == "CodexBackend"
    assert backend_class("nope") is None
    manager = AimaxManager(AimaxConfig.from_env({"HOME": str(tmp_path)}))
    assert manager.backend("tmux-claude-code") is manager.backend("tmux-claude-code")
    with pytest.raises(UnknownBackend, match="tmux-claude-code, tmux-codex"):
        manager.backend("nope")


def test_state_file_accepts_bsd_date_stamps(tmp_path):
    state = StateFile(tmp_path / "state.jsonl")
    state.path.write_text(f"1700000000.N\t{json.dumps({'hook_event_name': 'Stop'})}\n")
    signal = state.read()
    assert signal.state == "idle" and signal.at == 1700000000.0


def test_archive_is_bounded_and_not_fsynced(tmp_path, monkeypatch):
    reg = Registry(tmp_path, max_archived=3)
    for i in range(6):
        reg.put(_record(f"s{i}"))
        reg.archive(f"s{i}", status="stopped", exited_at=1000.0 + i)
    assert set(reg.archived()) == {"s3", "s4", "s5"}
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    reg.update("s5", lambda r: r.model_copy(update={"display_name": "renamed"}))
    assert reg.archived()["s5"].display_name == "renamed"
    assert synced == []  # the archive is history: renamed atomically, never fsynced
    stamp = reg.archive_path.stat().st_mtime_ns
    reg.update("s5", lambda r: r)  # no change, no rewrite
    assert reg.archive_path.stat().st_mtime_ns == stamp
    reg.put(_record("live"))
    assert synced  # the live registry still is


def test_session_ids_are_matched_whole():
    from aiikernel.aimax.options import check_session_id

    assert check_session_id("ok-1") == "ok-1"
    for bad in ("abc\n", "abc\r\n", "a" * 65):
        with pytest.raises(ValueError):
            check_session_id(bad)


def test_a_dead_panes_status_is_read_from_its_screen_when_tmux_has_not_listed_it_yet():
    # list-panes can show pane_dead=1 an instant before pane_dead_status is set; the screen
    # already says it, so "could not be executed" still gets its hint.
    screen = "issing-codex'\n\nPane is dead (status 127, Thu Dec  3 15:02:44 2026)\n"
    assert dead_status_shown(screen) == 127
    assert dead_status_shown("Pane is dead (signal 9, Thu Dec  3 15:02:44 2026)") is None
    assert dead_status_shown("a prompt\n> ") is None
