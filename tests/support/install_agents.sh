#!/usr/bin/env bash
# Install the real Claude Code and Codex CLIs (pinned) into a project-local npm prefix, so the
# real-agent tests (pytest -m real_agent) can drive them offline against a scripted model server.
#
#   tests/support/install_agents.sh            # -> ${AIIKERNEL_AGENTS_DIR:-<repo>/.agents}
#
# Idempotent: a prefix that already holds the pinned versions is left alone. Prints the two
# binary paths on the last two stdout lines:  "claude <path>" and "codex <path>".
# The pins (tests/support/agents/package*.json) are the versions whose wire and transcripts were
# verified; AIIKERNEL_CLAUDE_CODE_VERSION / AIIKERNEL_CODEX_VERSION try others.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PREFIX="${AIIKERNEL_AGENTS_DIR:-$REPO/.agents}"
LOCKED="$REPO/tests/support/agents"   # package.json + package-lock.json (integrity hashes)

locked_version() {
    # $1 = package name; prints the version pinned in the committed package.json.
    node -p "require(process.argv[1]).dependencies[process.argv[2]]" "$LOCKED/package.json" "$1"
}
CLAUDE_CODE_VERSION="${AIIKERNEL_CLAUDE_CODE_VERSION:-$(locked_version @anthropic-ai/claude-code)}"
CODEX_VERSION="${AIIKERNEL_CODEX_VERSION:-$(locked_version @openai/codex)}"

installed_version() {
    # $1 = package name; prints its installed version under $PREFIX, or nothing.
    local manifest="$PREFIX/node_modules/$1/package.json"
    [[ -f "$manifest" ]] && node -p "require(process.argv[1]).version" "$manifest" 2>/dev/null || true
}

command -v npm >/dev/null || { echo "install_agents: npm not found on PATH" >&2; exit 1; }
mkdir -p "$PREFIX"

if [[ "$(installed_version @anthropic-ai/claude-code)" != "$CLAUDE_CODE_VERSION" ||
      "$(installed_version @openai/codex)" != "$CODEX_VERSION" ]]; then
    if [[ -z "${AIIKERNEL_CLAUDE_CODE_VERSION:-}${AIIKERNEL_CODEX_VERSION:-}" ]]; then
        # The committed lock, byte for byte (npm ci checks every integrity hash).
        echo "install_agents: npm ci of the locked CLIs into $PREFIX" >&2
        cp "$LOCKED/package.json" "$LOCKED/package-lock.json" "$PREFIX/"
        # Optional dependencies carry the native binaries: never --omit=optional here.
        npm ci --prefix "$PREFIX" --no-audit --no-fund --loglevel=error >&2
    else
        # A deliberate try of other versions: resolved anew, not from the lock.
        [[ -f "$PREFIX/package.json" ]] || echo '{"name": "aiikernel-agents", "private": true}' >"$PREFIX/package.json"
        echo "install_agents: installing claude-code@$CLAUDE_CODE_VERSION codex@$CODEX_VERSION (not locked)" >&2
        npm install --prefix "$PREFIX" --save-exact --no-audit --no-fund --loglevel=error \
            "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" "@openai/codex@$CODEX_VERSION" >&2
    fi
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
