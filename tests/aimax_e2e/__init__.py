"""End-to-end tests with the real Claude Code and Codex CLIs (``pytest -m real_agent``)."""
