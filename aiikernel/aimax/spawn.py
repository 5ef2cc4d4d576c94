"""Build the argv that starts an agent in a tmux pane with an exact environment.

The agent must get the environment of the caller that created the session, not the tmux
server's. Passing it as ``tmux -e K=V`` would put secrets (API keys) on tmux's command line,
visible in ``ps``; instead the environment goes into a private (0600) JSON file that a tiny
stdlib-only launcher reads, deletes, and replaces itself with the agent (``execvpe``). No shell
ever sees user input: the agent argv is passed as a list.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

SESSION_ENV = "AIMAX_SESSION_ID"
FLAG_DIR_ENV = "AIMAX_FLAG_DIR"

_LAUNCHER = r"""
import json, os, sys
path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    env = json.load(f)
os.unlink(path)
argv = sys.argv[2:]
try:
    os.execvpe(argv[0], argv, env)
except OSError as exc:
    sys.stderr.write("aimax: cannot start %r: %s\n" % (argv[0], exc))
    sys.exit(127)
"""


def write_env_file(directory: Path, env: Mapping[str, str]) -> Path:
    """Write ``env`` to a fresh 0600 file in ``directory`` (consumed by the launcher)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"launch-{uuid.uuid4().hex}.env.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(dict(env), f)
    return path


def launch_argv(env_file: Path, agent_argv: Sequence[str]) -> list[str]:
    """The pane command: the launcher, then the agent's argv verbatim."""
    return [sys.executable, "-S", "-c", _LAUNCHER, str(env_file), *agent_argv]


def proxied(argv: Sequence[str], proxychains_bin: str, conf: Path) -> list[str]:
    """Wrap ``argv`` in proxychains (the seed's ``useProxy``)."""
    return [proxychains_bin, "-q", "-f", str(conf), *argv]


def read_env_file(path: Path) -> dict[str, str]:
    """Parse an optional ``KEY=VALUE`` file (``export`` prefixes and quotes allowed)."""
    result: dict[str, str] = {}
    if not path.is_file():
        return result
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        result[key.strip()] = value
    return result
