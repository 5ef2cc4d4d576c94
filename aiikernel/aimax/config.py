"""Every path and default aimax uses, in one dataclass, overridable by ``AIMAX_*`` variables.

The defaults follow the seed's table; :meth:`AimaxConfig.from_env` applies the environment
(``AIMAX_<FIELD>``), so a config is an immutable snapshot a manager holds — there is no
module-global configuration object.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

ENV_PREFIX = "AIMAX_"


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("AIMAX_HOME") or env.get("HOME") or Path.home()).expanduser()


def _xdg_data(env: Mapping[str, str], home: Path) -> Path:
    base = env.get("XDG_DATA_HOME")
    return Path(base).expanduser() if base else home / ".local" / "share"


@dataclass(frozen=True)
class AimaxConfig:
    """Paths, binaries and tunables of aimax. Build with :meth:`from_env` or directly."""

    home: Path = field(metadata={"help": "Base for the default paths below."})
    data_dir: Path = field(metadata={"help": "Where aimax keeps registry, event logs, hook files."})
    codex_home: Path = field(metadata={"help": "Codex's CODEX_HOME (rollouts, state DB)."})
    claude_config: Path = field(metadata={"help": "Claude Code's ~/.claude.json (folder trust)."})
    claude_settings: Path = field(
        metadata={"help": "Extra Claude settings merged into each session's --settings file."}
    )
    claude_projects_dir: Path = field(metadata={"help": "Where Claude Code writes transcripts."})
    codex_config: Path = field(metadata={"help": "Codex's config.toml (read only)."})
    codex_state_db: Path = field(metadata={"help": "Codex's SQLite state DB (opened read-only)."})
    codex_sessions_dir: Path = field(metadata={"help": "Where Codex writes rollouts."})
    rightcode_env_file: Path = field(
        metadata={"help": "Optional KEY=VALUE file added to Codex sessions' environment."}
    )
    proxy_envs_bash: Path = field(
        metadata={"help": "Optional KEY=VALUE proxy environment for proxied sessions."}
    )
    proxy_chains_conf: Path = field(metadata={"help": "proxychains config for proxied sessions."})
    claude_hub: str = field(
        default="imac_claude_code_agent_hub",
        metadata={"help": "tmux session that holds the Claude Code windows."},
    )
    codex_hub: str = field(
        default="imac_codex_agent_hub",
        metadata={"help": "tmux session that holds the Codex windows."},
    )
    codex_default_model: str = field(
        default="",
        metadata={
            "help": "Model passed to Codex (-m) when none is given; empty = Codex's own config "
            "(the seed used gpt-5.5)."
        },
    )
    claude_bin: str = field(default="claude", metadata={"help": "Claude Code executable."})
    codex_bin: str = field(default="codex", metadata={"help": "Codex executable."})
    tmux_bin: str = field(default="tmux", metadata={"help": "tmux executable."})
    tmux_socket: str = field(
        default="aimax", metadata={"help": "Name of aimax's private tmux server (tmux -L)."}
    )
    proxychains_bin: str = field(
        default="proxychains", metadata={"help": "proxychains executable."}
    )
    use_proxy: bool = field(default=False, metadata={"help": "Wrap agents in proxychains."})
    run_preflight: bool = field(default=True, metadata={"help": "Check tmux/binaries/data dir."})
    enter_delay: float = field(
        default=0.2, metadata={"help": "Seconds between paste and Enter (Codex needs >0.12)."}
    )
    ready_timeout: float = field(
        default=30.0, metadata={"help": "Seconds to wait for an agent's prompt to appear."}
    )
    confirm_timeout: float = field(
        default=10.0, metadata={"help": "Seconds to wait for a submitted prompt to be confirmed."}
    )
    poll_interval: float = field(
        default=1.0, metadata={"help": "Seconds between monitor ticks (one tmux call each)."}
    )
    window_size: str = field(default="200x50", metadata={"help": "Size of agent windows."})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> AimaxConfig:
        """Defaults, then ``AIMAX_*`` variables, then keyword ``overrides``."""
        env = os.environ if environ is None else environ
        home = _home(env)
        codex_home = Path(
            env.get("AIMAX_CODEX_HOME") or env.get("CODEX_HOME") or home / ".codex"
        ).expanduser()
        values: dict[str, Any] = {
            "home": home,
            "data_dir": _xdg_data(env, home) / "aimax",
            "codex_home": codex_home,
            "claude_config": home / ".claude.json",
            "claude_settings": home / ".claude" / "settings.api.json",
            "claude_projects_dir": home / ".claude" / "projects",
            "codex_config": codex_home / "config.toml",
            "codex_state_db": codex_home / "state_5.sqlite",
            "codex_sessions_dir": codex_home / "sessions",
            "rightcode_env_file": codex_home / "secrets" / "rightcode.env",
            "proxy_envs_bash": home / "proxy_envs.bash",
            "proxy_chains_conf": home / "proxy_claude.conf",
        }
        for f in dataclasses.fields(cls):
            raw = env.get(env_name(f.name))
            if raw is None or f.name in ("home", "codex_home"):
                continue
            values[f.name] = _convert(f, raw)
        values.update(overrides)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view (``aimax config show``)."""
        return {
            k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()
        }


def env_name(field_name: str) -> str:
    """The environment variable that overrides ``field_name``."""
    return ENV_PREFIX + field_name.upper()


def field_help() -> dict[str, str]:
    """Field name → help text, for documentation and ``config show``."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(AimaxConfig)}


def _convert(f: dataclasses.Field, raw: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    try:
        if kind == "Path":
            return Path(raw).expanduser()
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"expected 0/1/true/false, got {raw!r}")
        if kind == "float":
            return float(raw)
        return raw
    except ValueError as exc:
        raise ConfigError(f"{env_name(f.name)}: {exc}") from exc
