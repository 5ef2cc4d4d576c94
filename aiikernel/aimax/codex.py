"""The ``tmux-codex`` backend: Codex's TUI in aimax's tmux server.

What is Codex-specific: Codex picks the thread id, so the rollout is found after the first
submit (read-only state DB, else the newest rollout for the cwd); turn completion comes from
``-c notify=[…]``; folder trust and "no daemon" are passed as ``-c`` overrides, so the user's
``config.toml`` is never edited.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path

from .backend_base import TmuxAgentBackend
from .registry import SessionRecord
from .screen import CODEX_MARKERS


def notify_argv(state_file: Path) -> list[str]:
    """Codex appends the JSON payload as the last argument; append it to the state file."""
    script = (
        "umask 077; printf '%s\\t%s\\n' \"$(date +%s.%N)\" \"$(printf '%s' \"$1\" | tr -d '\\n')\" >> "
        + shlex.quote(str(state_file))
    )
    return ["/bin/sh", "-c", script, "aimax-notify"]


NEW_THREAD_COMMANDS = frozenset({"/new"})
"""Codex commands that start a new thread (and rollout) in the same TUI."""


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

    def flavor_new_transcript(
        self, record: SessionRecord, since: float, text: str | None = None
    ) -> Path | None:
        """The rollout Codex started for our first prompt.

        Several Codex sessions may share a cwd and start together, so "the newest rollout for
        this cwd" is not enough: the candidate must hold our prompt as a user message and not
        already belong to another session.
        """
        for path in self._rollout_candidates(record, since - 2):
            if text is None or self._holds_user_text(path, text):
                return path
        return None

    def _rollout_candidates(self, record: SessionRecord, since: float) -> list[Path]:
        import datetime as dt
        import os

        from .transcripts.locate import read_codex_session_meta

        claimed = {
            r.transcript_path
            for r in self.manager.registry.live().values()
            if r.session_id != record.session_id and r.transcript_path
        }
        want = os.path.realpath(record.cwd)
        found: list[tuple[float, Path]] = []
        start = dt.datetime.fromtimestamp(since) - dt.timedelta(days=1)
        days = {(start + dt.timedelta(days=i)).strftime("%Y/%m/%d") for i in range(3)}
        for day in sorted(days):
            for path in (self.config.codex_sessions_dir / day).glob("rollout-*.jsonl"):
                try:
                    mtime = path.stat().st_mtime
                except OSError:
                    continue
                if mtime < since or str(path) in claimed:
                    continue
                meta = read_codex_session_meta(path)
                if meta and os.path.realpath(str(meta.get("cwd", ""))) == want:
                    found.append((mtime, path))
        return [path for _, path in sorted(found, reverse=True)]

    def _holds_user_text(self, path: Path, text: str) -> bool:
        from .ingest import read_new_entries

        want = text.strip()[:200]
        for entry in read_new_entries(path, 0).entries:
            for event in self.parser(entry):
                if event.kind == "user" and (event.text or "").strip()[:200] == want:
                    return True
        return False

    async def flavor_after_submit(
        self, record: SessionRecord, transcript: Path | None = None, text: str | None = None
    ) -> SessionRecord:
        """Learn the thread id and rollout Codex created for our first prompt; after ``/new``
        forget them, so the next prompt finds the new thread's rollout the same way."""
        if text is not None and text.strip() in NEW_THREAD_COMMANDS:
            self.manager.runtime(record.session_id).state_file.note("command")  # no turn runs
            return self.manager.registry.update(
                record.session_id,
                lambda r: r.model_copy(
                    update={
                        "agent_session_id": None,
                        "transcript_path": None,
                        "first_submit_at": None,
                    }
                ),
            )
        if record.transcript_path and record.agent_session_id:
            return record
        from .transcripts.locate import codex_rollout_for_thread, read_codex_session_meta

        path = transcript
        if path is None and record.agent_session_id:
            path = codex_rollout_for_thread(self.config.codex_state_db, record.agent_session_id)
        if path is None:
            since = (record.first_submit_at or record.created_at) - 2
            for _ in range(20):  # the rollout may appear just after the box emptied
                path = self.flavor_new_transcript(record, since, text)
                if path is not None:
                    break
                await asyncio.sleep(0.1)
        if path is None:
            return record
        meta = read_codex_session_meta(path) or {}
        thread = meta.get("id") or meta.get("session_id") or record.agent_session_id
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
