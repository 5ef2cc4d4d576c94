"""Throwaway homes that make the real Claude Code and Codex CLIs run offline against a
`ScriptedModelServer`, with every first-run screen already answered.

Facts behind each setting are in /work/shared/agents.md and tests/support/AGENTS_NOTES.md.
Each builder writes config files under a directory you own (``tmp_path``) and returns a small
record with the ``env`` to start the CLI with (a clean environment: pass it as the whole
environment, not merged into ``os.environ``) and the paths where its transcripts will appear.

    claude = claude_code_env(srv, tmp_path / "claude-home", cwd=tmp_path / "proj")
    codex = codex_env(srv, tmp_path / "codex-home", cwd=tmp_path / "proj")
    bins = find_agent_binaries()            # installed by tests/support/install_agents.sh
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from tests.support.model_server import ScriptedModelServer

REPO = Path(__file__).resolve().parents[2]
CLAUDE_CODE_VERSION = "2.1.197"
CODEX_VERSION = "0.169.0"
DEFAULT_KEY = "sk-ant-scripted-test-key-0123456789"

_QUIET_CLAUDE = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
}


# -- binaries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentBinaries:
    """Where the pinned CLIs are (None when not installed)."""

    claude: Path | None
    codex: Path | None


def agents_dir() -> Path:
    """The npm prefix install_agents.sh uses (``$AIIKERNEL_AGENTS_DIR`` or ``<repo>/.agents``)."""
    return Path(os.environ.get("AIIKERNEL_AGENTS_DIR") or REPO / ".agents")


def find_agent_binaries() -> AgentBinaries:
    """Locate the CLIs: ``$AIIKERNEL_CLAUDE_BIN`` / ``$AIIKERNEL_CODEX_BIN`` win, else the
    project-local prefix. Nothing is searched on PATH: tests must run the pinned versions."""
    bin_dir = agents_dir() / "node_modules" / ".bin"

    def locate(variable: str, name: str) -> Path | None:
        candidate = Path(os.environ.get(variable) or bin_dir / name)
        return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None

    return AgentBinaries(
        locate("AIIKERNEL_CLAUDE_BIN", "claude"), locate("AIIKERNEL_CODEX_BIN", "codex")
    )


def base_env(home: Path) -> dict[str, str]:
    """A minimal clean environment: HOME, a PATH that has node, a UTF-8 locale and a TERM."""
    node = shutil.which("node")
    path_dirs = [str(Path(node).parent)] if node else []
    path_dirs += [d for d in ("/usr/local/bin", "/usr/bin", "/bin") if d not in path_dirs]
    return {
        "HOME": str(home),
        "PATH": os.pathsep.join(path_dirs),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "USER": os.environ.get("USER", "root"),
        "SHELL": "/bin/bash",
    }


# -- Claude Code -----------------------------------------------------------------------------


def encode_claude_project_dir(cwd: str | Path) -> str:
    """Claude Code's project directory name for a cwd: non-alphanumerics become ``-``; names
    longer than 200 characters are cut and get ``-<base36 of |Java String.hashCode|>``."""
    real = os.path.realpath(cwd)
    encoded = re.sub(r"[^A-Za-z0-9]", "-", real)
    if len(encoded) <= 200:
        return encoded
    return encoded[:200] + "-" + _base36(abs(_java_string_hash(real)))


def _java_string_hash(text: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units, 32-bit signed)."""
    units = text.encode("utf-16-le")
    value = 0
    for i in range(0, len(units), 2):
        value = (31 * value + (units[i] | units[i + 1] << 8)) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


@dataclass(frozen=True)
class ClaudeCodeEnv:
    """A prepared Claude Code home; start ``claude`` with ``env`` in ``cwd``."""

    home: Path
    cwd: Path
    env: dict[str, str]
    api_key: str

    @property
    def config_dir(self) -> Path:
        return self.home / ".claude"

    @property
    def projects_dir(self) -> Path:
        """Where this cwd's transcripts go: ``<config>/projects/<encoded cwd>/``."""
        return self.config_dir / "projects" / encode_claude_project_dir(self.cwd)

    def transcript_path(self, session_id: str) -> Path:
        """The transcript of a session started with ``--session-id <session_id>``."""
        return self.projects_dir / f"{session_id}.jsonl"

    @property
    def sessions_dir(self) -> Path:
        """``<pid>.json`` files ({pid, sessionId, cwd, status}) while a CLI process lives."""
        return self.config_dir / "sessions"


def claude_code_env(
    server: ScriptedModelServer,
    home: Path,
    cwd: Path,
    *,
    api_key: str = DEFAULT_KEY,
    bypass_permissions: bool = False,
    allow: tuple[str, ...] = ("Bash",),
) -> ClaudeCodeEnv:
    """Write ``~/.claude.json`` and ``~/.claude/settings.json`` under ``home`` so Claude Code
    starts straight at its prompt, talking only to ``server``.

    ``allow`` pre-approves tools (no "Do you want to proceed?"); ``bypass_permissions`` turns
    on bypass mode and skips its warning screen (sets ``IS_SANDBOX=1``, needed as root).
    """
    home.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    state = {
        "hasCompletedOnboarding": True,
        "lastReleaseNotesSeen": CLAUDE_CODE_VERSION,
        "numStartups": 1,
        "theme": "dark",
        "projects": {
            os.path.realpath(cwd): {
                "hasTrustDialogAccepted": True,
                "projectOnboardingSeenCount": 1,
                "hasCompletedProjectOnboarding": True,
            }
        },
        "customApiKeyResponses": {"approved": [api_key[-20:]], "rejected": []},
    }
    _write_json(home / ".claude.json", state)
    permissions: dict[str, object] = {"allow": list(allow)}
    settings: dict[str, object] = {"permissions": permissions}
    if bypass_permissions:
        permissions["defaultMode"] = "bypassPermissions"
        settings["skipDangerousModePermissionPrompt"] = True
    _write_json(home / ".claude" / "settings.json", settings)

    env = base_env(home)
    env.update(_QUIET_CLAUDE)
    env["ANTHROPIC_BASE_URL"] = server.anthropic_base
    env["ANTHROPIC_API_KEY"] = api_key
    if bypass_permissions:
        env["IS_SANDBOX"] = "1"
    return ClaudeCodeEnv(home=home, cwd=cwd, env=env, api_key=api_key)


# -- Codex -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodexEnv:
    """A prepared ``CODEX_HOME``; start ``codex`` with ``env`` in ``cwd``."""

    codex_home: Path
    cwd: Path
    env: dict[str, str]

    @property
    def config_path(self) -> Path:
        return self.codex_home / "config.toml"

    @property
    def sessions_dir(self) -> Path:
        """Rollouts: ``sessions/YYYY/MM/DD/rollout-<start time>-<thread id>.jsonl``."""
        return self.codex_home / "sessions"

    def rollout_paths(self) -> list[Path]:
        """Every rollout file written so far, oldest name first."""
        return sorted(self.sessions_dir.glob("*/*/*/rollout-*.jsonl"))

    def thread_rollouts(self) -> dict[str, Path]:
        """thread id -> rollout path, read from Codex's own SQLite state (read-only)."""
        database = self.codex_home / "state_5.sqlite"
        if not database.exists():
            return {}
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=2)
        try:
            rows = connection.execute("SELECT id, rollout_path FROM threads").fetchall()
        finally:
            connection.close()
        return {thread_id: Path(path) for thread_id, path in rows}


def codex_env(
    server: ScriptedModelServer,
    codex_home: Path,
    cwd: Path,
    *,
    model: str = "scripted",
    api_key: str = "sk-scripted-test",
) -> CodexEnv:
    """Write ``config.toml`` under ``codex_home`` for an offline, never-asking Codex that talks
    only to ``server`` (Responses wire) and starts no background daemon."""
    codex_home.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    config = f"""\
model = {_toml_str(model)}
model_provider = "local"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[model_providers.local]
name = "Local"
base_url = {_toml_str(server.openai_base)}
env_key = "LOCAL_API_KEY"
wire_api = "responses"

[projects.{_toml_str(os.path.realpath(cwd))}]
trust_level = "trusted"

[tui]
screen_reader_detection_done = true

[analytics]
enabled = false

[features]
daemon_auto_start = false
plugins = false
remote_plugin = false
"""
    (codex_home / "config.toml").write_text(config, encoding="utf-8")
    env = base_env(codex_home)
    env["CODEX_HOME"] = str(codex_home)
    env["LOCAL_API_KEY"] = api_key
    return CodexEnv(codex_home=codex_home, cwd=cwd, env=env)


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON string escaping is valid TOML for these values)."""
    return json.dumps(value)


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
