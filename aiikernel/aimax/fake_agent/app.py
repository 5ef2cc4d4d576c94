"""The fake agent's terminal UI: raw-mode input, a redrawn screen, scripted turns."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import termios
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .writers import ClaudeWriter, CodexWriter

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
DIRECTIVE = re.compile(r"\[\[(\w+)(?::([^\]]*))?\]\]")

FLAVORS = {
    "claude": {
        "title": "✻ Fake Claude Code",
        "prompt": "❯\u00a0",
        "ready": "  ? for shortcuts",
        "busy": "✻ Thinking… (esc to interrupt)",
        "permission": "Do you want to proceed?\n❯ 1. Yes\n  2. No",
        "user_mark": "> ",
        "reply_mark": "● ",
    },
    "codex": {
        "title": ">_ Fake Codex",
        "prompt": "› ",
        "ready": "  ⏎ send   for agents · ? for shortcuts",
        "busy": "• Working (0s • esc to interrupt)",
        "permission": "Would you like to run the following command?\n› 1. Yes, proceed",
        "user_mark": "› ",
        "reply_mark": "• ",
    },
}


@dataclass
class Script:
    """Startup behaviour from ``AIMAX_FAKE_SCRIPT``."""

    startup_delay: float = 0.2
    blocking_screen: str = ""
    swallow_enters: int = 0
    think: float = 0.3
    enter_newline_window: float | None = None
    exit_after: int = 0

    @classmethod
    def from_env(cls) -> Script:
        raw = os.environ.get("AIMAX_FAKE_SCRIPT", "")
        data = json.loads(raw) if raw.strip() else {}
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Turn:
    prompt: str
    started: float = field(default_factory=time.time)
    directives: dict[str, str] = field(default_factory=dict)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fake_agent")
    p.add_argument("--flavor", choices=sorted(FLAVORS), required=True)
    p.add_argument("--session-id")
    p.add_argument("--resume")
    p.add_argument("--settings")
    p.add_argument("--model", "-m", default="fake-model")
    p.add_argument("-c", "--config", action="append", default=[])
    args, rest = p.parse_known_args(argv)
    args.codex_resume = None
    if rest and rest[0] == "resume" and len(rest) > 1:
        args.codex_resume = rest[1]
    return args


class FakeAgent:
    """State: ``blocked`` → ``ready`` ⇄ ``busy`` (→ ``permission``)."""

    def __init__(self, args: argparse.Namespace, script: Script) -> None:
        self.args = args
        self.script = script
        self.flavor = args.flavor
        self.ui = FLAVORS[self.flavor]
        cwd = os.getcwd()
        if self.flavor == "claude":
            self.writer: Any = ClaudeWriter(cwd, args.session_id, args.resume)
        else:
            self.writer = CodexWriter(cwd, args.codex_resume, args.model)
        self.mode = "starting"
        self.input = ""
        self.pending = b""
        self.in_paste = False
        self.paste_buf = bytearray()
        self.paste_count = 0
        self.last_paste_end = 0.0
        self.swallow = script.swallow_enters
        self.newline_window = script.enter_newline_window
        if self.newline_window is None:
            self.newline_window = 0.12 if self.flavor == "codex" else 0.0
        self.history: list[str] = []
        self.queue: list[str] = []
        self.turn: Turn | None = None
        self.turn_task: asyncio.Task | None = None
        self.turns_done = 0
        self.permission_answer: asyncio.Future | None = None
        self.done = asyncio.Event()
        self.hooks = self._load_hooks(args.settings)
        self.notify = self._load_notify(args.config)

    # -- hooks ---------------------------------------------------------------------------
    @staticmethod
    def _load_hooks(settings: str | None) -> dict[str, list[str]]:
        if not settings:
            return {}
        try:
            data = json.loads(Path(settings).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        hooks: dict[str, list[str]] = {}
        for event, groups in (data.get("hooks") or {}).items():
            for group in groups:
                for hook in group.get("hooks", []):
                    if hook.get("type") == "command":
                        hooks.setdefault(event, []).append(hook["command"])
        return hooks

    @staticmethod
    def _load_notify(overrides: list[str]) -> list[str]:
        for item in overrides:
            key, _, value = item.partition("=")
            if key.strip() == "notify":
                try:
                    return list(json.loads(value))
                except ValueError:
                    return shlex.split(value.strip("[]"))
        return []

    def fire_hook(self, event: str, **extra: Any) -> None:
        payload = {
            "session_id": self.writer.thread_id,
            "transcript_path": str(getattr(self.writer, "path", "") or ""),
            "cwd": os.getcwd(),
            "hook_event_name": event,
            **extra,
        }
        for command in self.hooks.get(event, []):
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            proc.communicate(json.dumps(payload).encode(), timeout=10)

    def fire_notify(self, last: str) -> None:
        if not self.notify:
            return
        payload = {
            "type": "agent-turn-complete",
            "thread-id": self.writer.thread_id,
            "turn-id": getattr(self.writer, "turn_id", ""),
            "cwd": os.getcwd(),
            "last-assistant-message": last,
        }
        subprocess.run([*self.notify, json.dumps(payload)], timeout=10, check=False)

    # -- flags ---------------------------------------------------------------------------
    @staticmethod
    def finish_flags(failed: bool) -> None:
        flag_dir = os.environ.get("AIMAX_FLAG_DIR")
        if not flag_dir:
            return
        if failed:
            Path(flag_dir, "failed.flag").write_text("failed\n", encoding="utf-8")
        try:
            os.unlink(Path(flag_dir, "running.flag"))
        except FileNotFoundError:
            pass

    # -- drawing -------------------------------------------------------------------------
    def render_input(self) -> str:
        text = self.input
        if "\n" in text or len(text) > 400:
            self.paste_count = max(self.paste_count, 1)
            lines = text.count("\n")
            if self.flavor == "claude":
                return f"[Pasted text #{self.paste_count} +{lines} lines]"
            return f"[Pasted Content {len(text)} chars]"
        return text

    def draw(self) -> None:
        ui = self.ui
        out = [f" {ui['title']} ({self.writer.thread_id})", ""]
        if self.mode == "blocked":
            out += self.script.blocking_screen.splitlines()
        elif self.mode != "starting":
            out += self.history[-20:]
            out.append("")
            if self.mode == "permission":
                out += ui["permission"].splitlines()
            else:
                out.append("─" * 60)
                shown = self.render_input()
                if not shown and self.flavor == "codex":
                    shown = "\x1b[2mAsk Codex to do anything\x1b[0m"  # dim placeholder
                out.append(ui["prompt"] + shown)
                out.append("─" * 60)
                out.append(ui["busy"] if self.mode == "busy" else ui["ready"])
        sys.stdout.write("\x1b[H\x1b[2J" + "\r\n".join(out))
        sys.stdout.flush()

    # -- input ---------------------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        self.pending += data
        while self.pending:
            if self.in_paste:
                end = self.pending.find(PASTE_END)
                if end < 0:
                    # Keep a possible partial end marker; bytes are decoded only at the end
                    # of the paste, so a UTF-8 character split across reads stays whole.
                    keep = len(PASTE_END) - 1
                    if len(self.pending) <= keep:
                        return
                    self.paste_buf += self.pending[:-keep]
                    self.pending = self.pending[-keep:]
                    return
                self.paste_buf += self.pending[:end]
                self.input += bytes(self.paste_buf).decode("utf-8", "replace")
                self.paste_buf = bytearray()
                self.pending = self.pending[end + len(PASTE_END) :]
                self.in_paste = False
                self.paste_count += 1
                self.last_paste_end = time.monotonic()
                continue
            if self.pending.startswith(PASTE_START):
                self.pending = self.pending[len(PASTE_START) :]
                self.in_paste = True
                continue
            if PASTE_START.startswith(self.pending) and len(self.pending) > 1:
                return  # incomplete marker: wait for more bytes
            byte = self.pending[:1]
            self.pending = self.pending[1:]
            self.on_key(byte)
        self.draw()

    def on_key(self, key: bytes) -> None:
        if self.mode == "blocked":
            if key in (b"1", b"\r"):
                self.mode = "ready"
            return
        if self.mode == "permission":
            if self.permission_answer and not self.permission_answer.done():
                if key == b"\r":
                    self.permission_answer.set_result(True)
                elif key == b"\x1b":
                    self.permission_answer.set_result(False)
            return
        if key == b"\x1b":
            self.interrupt()
        elif key == b"\x03":
            if self.input:
                self.input = ""
            else:
                self.done.set()
        elif key == b"\r":
            self.on_enter()
        elif key == b"\t":
            if self.flavor == "codex" and self.mode == "busy" and self.input.strip():
                text, self.input, self.paste_count = self.input, "", 0
                self.enqueue(text)  # Codex: Tab queues a message while a turn runs
        elif key in (b"\x7f", b"\x08"):
            self.input = self.input[:-1]
        elif key >= b" ":
            self.input += key.decode("utf-8", "replace")

    def on_enter(self) -> None:
        if self.swallow > 0:
            self.swallow -= 1
            return
        if self.newline_window and time.monotonic() - self.last_paste_end < self.newline_window:
            self.input += "\n"
            return
        text, self.input, self.paste_count = self.input, "", 0
        if not text.strip():
            return
        if text.strip() == "/exit":
            self.done.set()
            return
        if text.strip() == "/new" and self.flavor == "codex" and self.mode == "ready":
            # Codex starts a new thread (new id; its rollout appears at the next prompt).
            self.writer = CodexWriter(os.getcwd(), None, self.args.model)
            self.history = []
            return
        if text.strip() == "/clear" and self.flavor == "claude" and self.mode == "ready":
            # Claude starts a new session (new id, new transcript file) on /clear.
            self.writer = ClaudeWriter(os.getcwd(), None, None)
            self.history = []
            self.fire_hook("SessionStart", source="clear")
            return
        if self.mode == "busy":
            if self.flavor == "codex":
                self.steer(text)  # Codex: Enter during a turn injects the text into it
            else:
                self.enqueue(text)
            return
        self.start_turn(text)

    def enqueue(self, text: str) -> None:
        self.queue.append(text)
        self.history.append(f"  (queued) {text.splitlines()[0][:60]}")

    def steer(self, text: str) -> None:
        """Replace the running turn by one answering ``text`` (what Codex's steering amounts to)."""
        if self.turn_task is not None:
            self.turn_task.cancel()
            self.turn_task = None
        self.start_turn(text)

    def start_turn(self, text: str) -> None:
        self.writer.user(text)
        self.history.append(self.ui["user_mark"] + (text.splitlines() or [""])[0][:80])
        self.mode = "busy"
        self.turn = Turn(text, directives={m[0]: m[1] for m in DIRECTIVE.findall(text)})
        self.fire_hook("UserPromptSubmit", prompt=text)
        self.turn_task = asyncio.get_running_loop().create_task(self.run_turn(self.turn))

    def interrupt(self) -> None:
        if self.mode != "busy" or self.turn_task is None:
            return
        self.turn_task.cancel()
        self.turn_task = None
        self.mode = "ready"
        turn = self.turn
        if self.flavor == "claude" and turn is not None and time.time() - turn.started < 0.5:
            # Claude, interrupted before answering, puts the prompt back in the input box.
            self.input = turn.prompt
            return
        self.writer.interrupted()
        self.history.append("  ⎿ Interrupted · What should Claude do instead?")
        self.fire_hook("Stop", stop_hook_active=False)

    async def run_turn(self, turn: Turn) -> None:
        d = turn.directives
        await asyncio.sleep(float(d.get("think") or self.script.think))
        if "tool" in d:
            self.writer.tool(d["tool"] or "true", "(fake tool output)")
            self.fire_hook("PreToolUse", tool_name="Bash", tool_input={"command": d["tool"]})
        if "permission" in d:
            self.mode = "permission"
            self.permission_answer = asyncio.get_running_loop().create_future()
            self.fire_hook(
                "Notification",
                message="Claude needs your permission to use Bash",
                notification_type="permission_prompt",
            )
            self.draw()
            approved = await self.permission_answer
            self.mode = "busy"
            self.history.append("  ⎿ approved" if approved else "  ⎿ denied")
            self.draw()
            await asyncio.sleep(0.05)
        reply = d.get("reply") or f"FAKE-REPLY to: {turn.prompt[:40]}"
        if "env" in d:
            reply = f"{d['env']}={os.environ.get(d['env'], '<unset>')}"
        self.writer.assistant(reply)
        self.history.append(self.ui["reply_mark"] + reply[:80])
        if self.flavor == "claude":
            self.writer.turn_end(turn.started)
        else:
            self.writer.turn_end(turn.started, reply)
        self.finish_flags("fail" in d)
        self.fire_hook("Stop", stop_hook_active=False)
        self.fire_notify(reply)
        self.turns_done += 1
        self.mode = "ready"
        self.turn_task = None
        if "exit" in d or (self.script.exit_after and self.turns_done >= self.script.exit_after):
            self.done.set()
            return
        if self.queue:
            self.start_turn(self.queue.pop(0))
        self.draw()

    def _read_terminal(self, fd: int) -> None:
        """Feed input; a closed terminal (its tmux window killed) ends the agent, as it ends
        a real TUI, instead of waking the loop forever with EIO."""
        try:
            data = os.read(fd, 65536)
            if data:
                self.on_bytes(data)
                return
        except OSError:
            pass
        asyncio.get_running_loop().remove_reader(fd)
        self.done.set()

    async def run(self) -> int:
        fd = sys.stdin.fileno()
        loop = asyncio.get_running_loop()
        loop.add_reader(fd, self._read_terminal, fd)
        loop.add_signal_handler(signal.SIGTERM, self.done.set)
        loop.add_signal_handler(signal.SIGHUP, self.done.set)
        loop.set_exception_handler(_log_exception)
        sys.stdout.write("\x1b[?2004h")  # ask the terminal for bracketed paste
        self.draw()
        await asyncio.sleep(self.script.startup_delay)
        self.mode = "blocked" if self.script.blocking_screen else "ready"
        self.fire_hook("SessionStart", source="resume" if self.args.resume else "startup")
        self.draw()
        await self.done.wait()
        self.fire_hook("SessionEnd", reason="exit")
        with contextlib.suppress(OSError):  # the terminal may be gone already
            sys.stdout.write("\x1b[?2004l\r\n")
            sys.stdout.flush()
        return 0


def _log_exception(loop: asyncio.AbstractEventLoop | None, context: dict[str, Any]) -> None:
    """A callback or turn that raised leaves the fake agent half-updated: say so where a
    test can read it (``$HOME/fake-agent-errors.log``), not on the drawn screen."""
    import traceback

    error = context.get("exception")
    text = context.get("message", "")
    if error is not None:
        text += "\n" + "".join(traceback.format_exception(error))
    with open(Path.home() / "fake-agent-errors.log", "a", encoding="utf-8") as f:
        f.write(f"{time.time():.3f} pid {os.getpid()}: {text}\n")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--version" in argv:
        flavor = "codex" if "codex" in argv else "claude"
        sys.stdout.write(
            "codex-cli 0.0.0-fake\n" if flavor == "codex" else "0.0.0-fake (Claude Code)\n"
        )
        return 0
    args = parse_args(argv)
    agent = FakeAgent(args, Script.from_env())
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    if saved is not None:
        tty.setraw(fd)
    try:
        return asyncio.run(agent.run())
    except Exception as exc:
        _log_exception(None, {"message": "the fake agent failed", "exception": exc})
        raise
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
