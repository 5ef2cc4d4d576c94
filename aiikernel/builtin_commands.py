"""Commands about the conversation itself: `/help`, `/reset`, `/history`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .commands import CommandResult, all_commands, command

if TYPE_CHECKING:
    from .session import AiSession


def _cell(text: str) -> str:
    """Escape ``|`` so usages like ``[a | b]`` stay in their table cell (GFM, even in code)."""
    return text.replace("|", "\\|")


@command("help", usage="/help", help="List the commands.", magic=False)
def help_command(session: AiSession, args: str) -> CommandResult:
    rows = ["| command | what it does |", "|---|---|"]
    rows += [f"| `{_cell(cmd.usage)}` | {_cell(cmd.help)} |" for cmd in all_commands()]
    return CommandResult("\n".join(rows), data={"commands": [c.name for c in all_commands()]})


@command(
    "reset", usage="/reset", help="Start a fresh conversation (the namespace is kept).", magic=False
)
def reset_command(session: AiSession, args: str) -> CommandResult:
    dropped = len(session.conversation)
    session.reset_conversation()
    return CommandResult(f"Started a fresh conversation ({dropped} earlier messages dropped).")


@command("history", usage="/history", help="Show how long the conversation is.", magic=False)
def history_command(session: AiSession, args: str) -> CommandResult:
    turns = session.turn_count
    return CommandResult(
        f"{turns} prompts, {len(session.conversation)} messages in this kernel's conversation.",
        data={"messages": len(session.conversation), "prompts": turns},
    )
