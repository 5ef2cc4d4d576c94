"""`%%ai`, `%ai` and one line magic per command (`%tree`, `%undo`, …).

The magics only parse and render: turns go through :class:`~aiikernel.session.AiSession`
and commands through :mod:`aiikernel.commands`, exactly as the chat panel does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from .commands import CommandResult, all_commands, run_command

USAGE = """\
Usage:
  %%ai [-m MODEL] [--max-steps N] [--ask | --auto]
                                       (cell magic: the cell body is the prompt; --ask:
                                       each code block waits for run / skip / edit)
  %ai [-m MODEL] [--max-steps N] PROMPT
  %ai reset                            start a fresh conversation
  %ai /COMMAND [ARGS]                  run a command (/help lists them)"""


class UsageError(ValueError):
    """Bad magic options; the message says what was wrong."""


@dataclass
class AiOptions:
    model: str | None = None
    max_steps: int | None = None
    run_mode: str | None = None


_OPTION = re.compile(r"\s*(-m|--model|--max-steps)(?:=|\s+)(\S+)")
_FLAG = re.compile(r"\s*--(ask|auto)(?=\s|$)")


def parse_options(line: str) -> tuple[AiOptions, str]:
    """Leading ``-m MODEL`` / ``--max-steps N`` options, then the free text (quotes untouched)."""
    opts = AiOptions()
    rest = line
    while True:
        flag_match = _FLAG.match(rest)
        if flag_match:
            opts.run_mode = flag_match.group(1)
            rest = rest[flag_match.end() :]
            continue
        m = _OPTION.match(rest)
        if not m:
            break
        flag, value = m.groups()
        if flag in ("-m", "--model"):
            opts.model = value
        else:
            if not value.isdigit() or int(value) < 1:
                raise UsageError(f"--max-steps needs a positive whole number, not {value!r}")
            opts.max_steps = int(value)
        rest = rest[m.end() :]
    stray = rest.strip()
    if stray.startswith("-") and stray.split()[0] in ("-m", "--model", "--max-steps"):
        raise UsageError(f"{stray.split()[0]} needs a value")
    return opts, stray


def show_result(shell: Any, result: CommandResult) -> None:
    """Show a command's Markdown in the cell (or the terminal)."""
    from .cell_output import _is_kernel_shell

    text = result.markdown if result.ok else f"⚠ {result.markdown}"
    if _is_kernel_shell(shell):
        from IPython.display import display

        display({"text/markdown": text, "text/plain": text}, raw=True)
    else:
        print(text)


@magics_class
class AiMagics(Magics):
    """The `%%ai` / `%ai` magics."""

    @property
    def session(self) -> Any:
        from .session import AiSession

        return AiSession.for_shell(self.shell)

    def _turn(self, prompt: str, opts: AiOptions) -> None:
        from .cell_output import CellRenderer

        if not prompt.strip():
            print(USAGE)
            return
        renderer = CellRenderer(self.shell)
        approve = None
        if (opts.run_mode or self.session.run_mode) == "ask":
            from .turn.approval import stdin_approval

            approve = stdin_approval()
        events = self.session.run_turn(
            prompt.strip(), model=opts.model, max_steps=opts.max_steps, approve=approve
        )
        try:
            for event in events:
                renderer.handle(event)
        except KeyboardInterrupt:
            events.close()
            renderer.interrupted()

    @cell_magic("ai")
    def ai_cell(self, line: str, cell: str) -> None:
        """Run an AI turn with the cell body as the prompt."""
        try:
            opts, rest = parse_options(line)
        except UsageError as exc:
            print(f"%%ai: {exc}\n{USAGE}")
            return
        prompt = cell if not rest else f"{rest}\n{cell}"
        self._turn(prompt, opts)

    @line_magic("ai")
    def ai_line(self, line: str) -> None:
        """`%ai PROMPT`, `%ai reset`, or `%ai /command`."""
        stripped = line.strip()
        if stripped.startswith("/"):
            show_result(self.shell, run_command(self.session, stripped))
            return
        if stripped == "reset":
            show_result(self.shell, run_command(self.session, "/reset"))
            return
        try:
            opts, rest = parse_options(line)
        except UsageError as exc:
            print(f"%ai: {exc}\n{USAGE}")
            return
        self._turn(rest, opts)


def _command_magic(name: str) -> Any:
    def magic(line: str) -> None:
        from IPython import get_ipython

        from .session import AiSession

        shell = get_ipython()
        show_result(shell, run_command(AiSession.for_shell(shell), f"/{name} {line}"))

    magic.__name__ = f"{name}_magic"
    return magic


_AI_LINE = re.compile(r"^(?P<indent>\s*)%ai(?P<rest>(?:\s.*)?)$")


def protect_ai_lines(lines: list[str]) -> list[str]:
    """Turn `%ai …` lines into magic calls before IPython's help syntax sees them.

    Without this, `%ai what is x?` ends with `?` and IPython runs `%pinfo x` instead.
    Lines inside a string (a docstring that mentions `%ai`) and the body of a cell magic
    are text, not magics, and stay as they are.
    """
    if not lines or lines[0].lstrip().startswith("%%"):
        return lines
    if not any("%ai" in line for line in lines):  # every cell comes here: most have none
        return lines
    matches = (_AI_LINE.match(line.rstrip("\n")) for line in lines)
    found = {row: m for row, m in enumerate(matches, 1) if m}
    if not found:
        return lines
    from .magic_lines import real_magic_rows

    real = real_magic_rows(lines, {row: len(m.group("indent")) for row, m in found.items()})
    out = list(lines)
    for row in real:
        m, line = found[row], lines[row - 1]
        newline = "\n" if line.endswith("\n") else ""
        rest = m.group("rest").strip()
        out[row - 1] = f"{m.group('indent')}get_ipython().run_line_magic('ai', {rest!r}){newline}"
    return out


def register(shell: Any) -> None:
    """Register `%%ai`/`%ai` and a line magic for every command that asks for one."""
    shell.register_magics(AiMagics)
    if protect_ai_lines not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(protect_ai_lines)
    for cmd in all_commands():
        if cmd.magic:
            shell.register_magic_function(_command_magic(cmd.name), "line", cmd.name)
