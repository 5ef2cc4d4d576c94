"""The ``tmux-claude-code`` backend: Claude Code's TUI in aimax's tmux server.

What is Claude-specific: we choose the session uuid (``--session-id``), so the transcript path
is known before the first prompt; state hooks come from a per-session ``--settings`` file (the
user's own settings stay untouched); the folder-trust dialog is pre-accepted in
``~/.claude.json`` for the session's cwd.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import uuid
from pathlib import Path
from typing import Any

from .backend_base import TmuxAgentBackend
from .registry import SessionRecord, atomic_write_json
from .screen import CLAUDE_MARKERS

HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "Notification",
    "Stop",
    "SessionEnd",
)


def hook_command(state_file: Path) -> str:
    """A shell command that appends ``<epoch>\\t<hook JSON>`` to the state file.

    Claude runs hook commands through a shell; the only interpolated value is our own path,
    quoted. ``tr -d '\\n'`` keeps one payload per line (JSON strings never hold raw newlines);
    ``umask 077`` keeps the file 0600 should the shell have to create it.
    """
    target = shlex.quote(str(state_file))
    return f"umask 077; {{ printf '%s\\t' \"$(date +%s.%N)\"; tr -d '\\n'; echo; }} >> {target}"


def hook_settings(state_file: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The per-session ``--settings`` content: the user's extra settings plus our hooks."""
    settings = dict(extra or {})
    hooks = dict(settings.get("hooks") or {})
    ours = {"type": "command", "command": hook_command(state_file), "timeout": 10}
    for event in HOOK_EVENTS:
        hooks[event] = [*hooks.get(event, []), {"hooks": [ours]}]
    settings["hooks"] = hooks
    return settings


def accept_folder_trust(claude_config: Path, cwd: str, lock_dir: Path) -> None:
    """Mark ``cwd`` trusted in ``~/.claude.json``, keeping every other key as it was."""
    lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(lock_dir / "claude-config.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = json.loads(claude_config.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except ValueError:
            return  # never overwrite a config we cannot read; the dialog will show instead
        if not isinstance(data, dict):
            return
        projects = data.setdefault("projects", {})
        entry = projects.setdefault(os.path.realpath(cwd), {})
        if entry.get("hasTrustDialogAccepted") is True:
            return
        entry["hasTrustDialogAccepted"] = True
        entry["projectOnboardingSeenCount"] = max(
            1, int(entry.get("projectOnboardingSeenCount") or 0)
        )
        mode = None
        with contextlib.suppress(FileNotFoundError):
            mode = claude_config.stat().st_mode & 0o777
        atomic_write_json(claude_config, data)
        if mode is not None:
            os.chmod(claude_config, mode)


class ClaudeCodeBackend(TmuxAgentBackend):
    """Claude Code sessions."""

    name = "tmux-claude-code"
    agent_label = "Claude Code"
    markers = CLAUDE_MARKERS

    @property
    def hub(self) -> str:
        return self.config.claude_hub

    def new_agent_session_id(self) -> str | None:
        return str(uuid.uuid4())

    def settings_path(self, record: SessionRecord) -> Path:
        return self.manager.session_dir(record.session_id) / "claude-settings.json"

    def flavor_prepare(self, record: SessionRecord, env: dict[str, str]) -> None:
        extra: dict[str, Any] = {}
        if self.config.claude_settings.is_file():
            with contextlib.suppress(ValueError, OSError):
                extra = json.loads(self.config.claude_settings.read_text(encoding="utf-8"))
        state_file = self.manager.runtime(record.session_id).state_file.path
        atomic_write_json(self.settings_path(record), hook_settings(state_file, extra))
        accept_folder_trust(self.config.claude_config, record.cwd, self.manager.data_dir)
        transcript = self.flavor_transcript_path(record)
        if transcript is not None:
            # Claude creates it at the first prompt; existing now, it can be watched at once.
            transcript.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def flavor_argv(self, record: SessionRecord, *, resume: bool) -> list[str]:
        assert record.agent_session_id
        argv = [self.config.claude_bin]
        argv += ["--resume" if resume else "--session-id", record.agent_session_id]
        argv += ["--settings", str(self.settings_path(record))]
        if record.model:
            argv += ["--model", record.model]
        return argv

    def flavor_transcript_path(self, record: SessionRecord) -> Path | None:
        from .transcripts.locate import claude_transcript_path

        record = self.follow_session_switch(record)
        if record.transcript_path:
            return Path(record.transcript_path)
        if not record.agent_session_id:
            return None
        return claude_transcript_path(
            self.config.claude_projects_dir, Path(record.cwd), record.agent_session_id
        )

    def follow_session_switch(self, record: SessionRecord) -> SessionRecord:
        """``/clear`` (and compaction) start a new Claude session id and transcript; the hooks
        report it, and the registry follows so tails switch files and resume uses the new id."""
        if record.status != "running":
            return record
        state = self.manager.runtime(record.session_id).state_file
        state.read()
        if state.agent_session is None:
            return record
        sid, path = state.agent_session
        if sid == record.agent_session_id and (record.transcript_path in (None, path)):
            return record
        return self.manager.registry.update(
            record.session_id,
            lambda r: r.model_copy(update={"agent_session_id": sid, "transcript_path": path}),
        )

    def flavor_preflight(self) -> str:
        from .preflight import check_binary

        return check_binary(
            self.config.claude_bin,
            "AIMAX_CLAUDE_BIN",
            "Install Claude Code (`npm install -g @anthropic-ai/claude-code`)",
            self.config.data_dir,
        )
