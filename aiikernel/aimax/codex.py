"""The ``tmux-codex`` backend: Codex's TUI in aimax's tmux server.

What is Codex-specific: Codex picks the thread id, so the rollout is found after the first
submit (read-only state DB, else the newest rollout for the cwd); turn completion comes from
``-c notify=[…]``; folder trust and "no daemon" are passed as ``-c`` overrides, so the user's
``config.toml`` is never edited.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from .backend_base import TmuxAgentBackend
from .registry import SessionRecord
from .screen import CODEX_MARKERS


def notify_argv(state_file: Path) -> list[str]:
    """Codex appends the JSON payload as the last argument; append it to the state file."""
    script = (
        "printf '%s\\t%s\\n' \"$(date +%s.%N)\" \"$(printf '%s' \"$1\" | tr -d '\\n')\" >> "
        + shlex.quote(str(state_file))
    )
    return ["/bin/sh", "-c", script, "aimax-notify"]


def toml_string(value: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes)."""
    return json.dumps(value, ensure_ascii=True)


class CodexBackend(TmuxAgentBackend):
    """Codex sessions."""

    name = "tmux-codex"
    agent_label = "Codex"
    markers = CODEX_MARKERS

    screen_busy_reliable = False

    @property
    def hub(self) -> str:
        return self.config.codex_hub

    async def flavor_submit_key(self, record: SessionRecord, pane) -> str:
        """Enter while a turn runs would steer it (inject the text); Tab queues instead."""
        return "Tab" if await self.is_busy(record, pane) else "Enter"

    def flavor_prepare(self, record: SessionRecord, env: dict[str, str]) -> None:
        from .spawn import read_env_file

        for key, value in read_env_file(self.config.rightcode_env_file).items():
            env.setdefault(key, value)

    def flavor_argv(self, record: SessionRecord, *, resume: bool) -> list[str]:
        state_file = self.manager.runtime(record.session_id).state_file.path
        argv = [self.config.codex_bin]
        if resume:
            assert record.agent_session_id
            argv += ["resume", record.agent_session_id]
        notify = "[" + ", ".join(toml_string(a) for a in notify_argv(state_file)) + "]"
        trust = "{ " + toml_string(record.cwd) + ' = { trust_level = "trusted" } }'
        argv += ["-c", f"notify={notify}", "-c", f"projects={trust}"]
        argv += ["-c", "features.daemon_auto_start=false"]
        model = record.model or self.config.codex_default_model
        if model:
            argv += ["-m", model]
        return argv

    def flavor_transcript_path(self, record: SessionRecord) -> Path | None:
        from .transcripts.locate import codex_rollout_for_thread

        if record.transcript_path:
            return Path(record.transcript_path)
        if record.agent_session_id:
            return codex_rollout_for_thread(self.config.codex_state_db, record.agent_session_id)
        return None

    def flavor_new_transcript(self, record: SessionRecord, since: float) -> Path | None:
        from .transcripts.locate import newest_codex_rollout

        found = newest_codex_rollout(self.config.codex_sessions_dir, Path(record.cwd), since - 2)
        return found[1] if found else None

    def flavor_after_submit(self, record: SessionRecord) -> SessionRecord:
        """Find the thread id and rollout Codex created for our first prompt."""
        if record.transcript_path and record.agent_session_id:
            return record
        from .transcripts.locate import codex_rollout_for_thread, newest_codex_rollout

        path = None
        thread = record.agent_session_id
        if thread:
            path = codex_rollout_for_thread(self.config.codex_state_db, thread)
        if path is None:
            since = (record.first_submit_at or record.created_at) - 2
            found = newest_codex_rollout(self.config.codex_sessions_dir, Path(record.cwd), since)
            if found:
                thread, path = found
        if path is None:
            return record
        return self.manager.registry.update(
            record.session_id,
            lambda r: r.model_copy(
                update={"agent_session_id": thread, "transcript_path": str(path)}
            ),
        )

    def flavor_preflight(self) -> str:
        from .preflight import check_binary

        return check_binary(
            self.config.codex_bin,
            "AIMAX_CODEX_BIN",
            "Install Codex (`npm install -g @openai/codex`)",
            self.config.data_dir,
        )
