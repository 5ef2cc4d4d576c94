"""Transcript writers in each real agent's format (see agents.md and the recorded fixtures)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _append(path: Path, entries: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
    with open(path, "a", encoding="utf-8") as f:
        f.write(data)
        f.flush()


def _java_hash(text: str) -> int:
    h = 0
    for ch in text.encode("utf-16-le").decode("utf-16-le"):
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def claude_project_dirname(cwd: str) -> str:
    """Claude Code's ``<enc>`` of a cwd (agents.md)."""
    enc = re.sub(r"[^A-Za-z0-9]", "-", cwd)
    if len(enc) > 200:
        enc = enc[:200] + "-" + _base36(abs(_java_hash(cwd)))
    return enc


class ClaudeWriter:
    """Writes ``~/.claude/projects/<enc>/<session>.jsonl`` like Claude Code 2.1."""

    def __init__(self, cwd: str, session_id: str | None, resume: str | None) -> None:
        self.cwd = os.path.realpath(cwd)
        self.session_id = resume or session_id or str(uuid.uuid4())
        base = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
        self.path = (
            base / "projects" / claude_project_dirname(self.cwd) / f"{self.session_id}.jsonl"
        )
        self.parent: str | None = None

    @property
    def thread_id(self) -> str:
        return self.session_id

    def _base(self, kind: str) -> dict[str, Any]:
        entry_uuid = str(uuid.uuid4())
        entry = {
            "parentUuid": self.parent,
            "isSidechain": False,
            "type": kind,
            "uuid": entry_uuid,
            "timestamp": now_iso(),
            "userType": "external",
            "entrypoint": "cli",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": "fake-2.1",
        }
        self.parent = entry_uuid
        return entry

    def user(self, text: str) -> None:
        entry = self._base("user")
        entry["message"] = {"role": "user", "content": text}
        entry["promptId"] = str(uuid.uuid4())
        _append(self.path, [entry])

    def assistant(self, text: str) -> None:
        entry = self._base("assistant")
        entry["message"] = {
            "id": f"msg_fake{uuid.uuid4().hex[:12]}",
            "type": "message",
            "role": "assistant",
            "model": "fake",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 100, "output_tokens": len(text.split()) + 1},
        }
        _append(self.path, [entry])

    def tool(self, command: str, output: str) -> None:
        tool_id = f"toolu_fake{uuid.uuid4().hex[:12]}"
        call = self._base("assistant")
        call["message"] = {
            "role": "assistant",
            "type": "message",
            "content": [
                {"type": "tool_use", "id": tool_id, "name": "Bash", "input": {"command": command}}
            ],
            "stop_reason": "tool_use",
        }
        result = self._base("user")
        result["message"] = {
            "role": "user",
            "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": output}],
        }
        _append(self.path, [call, result])

    def turn_end(self, started: float) -> None:
        entry = self._base("system")
        entry.update(subtype="turn_duration", durationMs=int((time.time() - started) * 1000))
        _append(self.path, [entry])

    def interrupted(self) -> None:
        synthetic = self._base("assistant")
        synthetic["message"] = {
            "role": "assistant",
            "type": "message",
            "model": "<synthetic>",
            "content": [{"type": "text", "text": "No response requested."}],
        }
        user = self._base("user")
        user["message"] = {
            "role": "user",
            "content": [{"type": "text", "text": "[Request interrupted by user]"}],
        }
        _append(self.path, [synthetic, user])


class CodexWriter:
    """Writes ``$CODEX_HOME/sessions/Y/M/D/rollout-…-<thread>.jsonl`` + the threads table."""

    def __init__(self, cwd: str, resume: str | None, model: str) -> None:
        self.cwd = os.path.realpath(cwd)
        self.home = Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex")
        self.db = self.home / "state_5.sqlite"
        self.model = model
        self.ordinal = 0
        self.turn_id = ""
        self.path: Path | None = None
        self.thread_id = resume or str(uuid.uuid4())
        if resume:
            self.path = self._lookup(resume)

    def _connect(self) -> sqlite3.Connection:
        self.home.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.db, timeout=5)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS threads (id TEXT PRIMARY KEY, rollout_path TEXT NOT NULL,"
            " created_at INTEGER, updated_at INTEGER, source TEXT, model_provider TEXT,"
            " cwd TEXT, title TEXT, model TEXT)"
        )
        return conn

    def _lookup(self, thread: str) -> Path | None:
        with self._connect() as conn:
            row = conn.execute("SELECT rollout_path FROM threads WHERE id=?", (thread,)).fetchone()
        return Path(row[0]) if row else None

    def _line(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        line = {"timestamp": now_iso(), "ordinal": self.ordinal, "type": kind, "payload": payload}
        self.ordinal += 1
        return line

    def _ensure_file(self, first_prompt: str) -> Path:
        if self.path is not None:
            return self.path
        now = dt.datetime.now(dt.UTC)
        day = self.home / "sessions" / now.strftime("%Y/%m/%d")
        self.path = day / f"rollout-{now.strftime('%Y-%m-%dT%H-%M-%S')}-{self.thread_id}.jsonl"
        meta = {
            "session_id": self.thread_id,
            "id": self.thread_id,
            "timestamp": now_iso(),
            "cwd": self.cwd,
            "originator": "codex-tui",
            "cli_version": "fake-0.169",
            "source": "cli",
        }
        _append(self.path, [self._line("session_meta", meta)])
        with self._connect() as conn:
            stamp = int(time.time())
            conn.execute(
                "INSERT OR REPLACE INTO threads (id, rollout_path, created_at, updated_at, source,"
                " model_provider, cwd, title, model) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    self.thread_id,
                    str(self.path),
                    stamp,
                    stamp,
                    "cli",
                    "fake",
                    self.cwd,
                    first_prompt[:60],
                    self.model,
                ),
            )
        return self.path

    def user(self, text: str) -> None:
        path = self._ensure_file(text)
        self.turn_id = str(uuid.uuid4())
        _append(
            path,
            [
                self._line("event_msg", {"type": "task_started", "turn_id": self.turn_id}),
                self._line(
                    "response_item",
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": text}],
                    },
                ),
                self._line(
                    "event_msg",
                    {
                        "type": "item_completed",
                        "thread_id": self.thread_id,
                        "turn_id": self.turn_id,
                        "item": {
                            "type": "UserMessage",
                            "id": str(uuid.uuid4()),
                            "content": [{"type": "text", "text": text}],
                        },
                    },
                ),
            ],
        )

    def assistant(self, text: str) -> None:
        assert self.path is not None
        msg_id = f"msg_fake{uuid.uuid4().hex[:8]}"
        _append(
            self.path,
            [
                self._line(
                    "event_msg",
                    {
                        "type": "item_completed",
                        "thread_id": self.thread_id,
                        "turn_id": self.turn_id,
                        "item": {
                            "type": "AgentMessage",
                            "id": msg_id,
                            "content": [{"type": "Text", "text": text}],
                        },
                    },
                ),
                self._line(
                    "response_item",
                    {
                        "type": "message",
                        "status": "completed",
                        "id": msg_id,
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": text, "annotations": []}],
                    },
                ),
            ],
        )

    def tool(self, command: str, output: str) -> None:
        assert self.path is not None
        call_id = f"call_fake{uuid.uuid4().hex[:8]}"
        _append(
            self.path,
            [
                self._line(
                    "response_item",
                    {
                        "type": "function_call",
                        "name": "exec_command",
                        "call_id": call_id,
                        "arguments": json.dumps({"cmd": command}),
                    },
                ),
                self._line(
                    "response_item",
                    {"type": "function_call_output", "call_id": call_id, "output": output},
                ),
            ],
        )

    def turn_end(self, started: float, last_message: str = "") -> None:
        assert self.path is not None
        _append(
            self.path,
            [
                self._line(
                    "event_msg",
                    {
                        "type": "task_complete",
                        "turn_id": self.turn_id,
                        "last_agent_message": last_message,
                        "duration_ms": int((time.time() - started) * 1000),
                    },
                )
            ],
        )

    def interrupted(self) -> None:
        assert self.path is not None
        _append(
            self.path,
            [
                self._line(
                    "event_msg",
                    {"type": "turn_aborted", "turn_id": self.turn_id, "reason": "interrupted"},
                )
            ],
        )
