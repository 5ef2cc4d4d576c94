#!/usr/bin/env bash
# Install the real Claude Code and Codex CLIs (pinned) into a project-local npm prefix, so the
# real-agent tests (pytest -m real_agent) can drive them offline against a scripted model server.
#
#   tests/support/install_agents.sh            # -> ${AIIKERNEL_AGENTS_DIR:-<repo>/.agents}
#
# Idempotent: a prefix that already holds the pinned versions is left alone. Prints the two
# binary paths on the last two stdout lines:  "claude <path>" and "codex <path>".
# The pins match /work/shared/agents.md (the versions whose wire and transcripts were verified).
set -euo pipefail

CLAUDE_CODE_VERSION="${AIIKERNEL_CLAUDE_CODE_VERSION:-2.1.197}"
CODEX_VERSION="${AIIKERNEL_CODEX_VERSION:-0.169.0}"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PREFIX="${AIIKERNEL_AGENTS_DIR:-$REPO/.agents}"

installed_version() {
    # $1 = package name; prints its installed version under $PREFIX, or nothing.
    local manifest="$PREFIX/node_modules/$1/package.json"
    [[ -f "$manifest" ]] && node -p "require(process.argv[1]).version" "$manifest" 2>/dev/null || true
}

command -v npm >/dev/null || { echo "install_agents: npm not found on PATH" >&2; exit 1; }
mkdir -p "$PREFIX"
[[ -f "$PREFIX/package.json" ]] || echo '{"name": "aiikernel-agents", "private": true}' >"$PREFIX/package.json"

wanted=()
[[ "$(installed_version @anthropic-ai/claude-code)" == "$CLAUDE_CODE_VERSION" ]] ||
    wanted+=("@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION")
[[ "$(installed_version @openai/codex)" == "$CODEX_VERSION" ]] ||
    wanted+=("@openai/codex@$CODEX_VERSION")

if ((${#wanted[@]})); then
    echo "install_agents: installing ${wanted[*]} into $PREFIX" >&2
    # Optional dependencies carry the native binaries: never --omit=optional here.
    npm install --prefix "$PREFIX" --save-exact --no-audit --no-fund --loglevel=error \
        "${wanted[@]}" >&2
fi

CLAUDE_BIN="$PREFIX/node_modules/.bin/claude"
CODEX_BIN="$PREFIX/node_modules/.bin/codex"
for bin in "$CLAUDE_BIN" "$CODEX_BIN"; do
    [[ -x "$bin" ]] || { echo "install_agents: $bin missing after install" >&2; exit 1; }
done
# Both CLIs answer --version without a model server or network.
echo "install_agents: $("$CLAUDE_BIN" --version 2>/dev/null | head -1) / $("$CODEX_BIN" --version 2>/dev/null | head -1)" >&2
echo "claude $CLAUDE_BIN"
echo "codex $CODEX_BIN"
