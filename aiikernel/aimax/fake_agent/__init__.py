"""A scripted stand-in for the Claude Code and Codex TUIs, for aimax's tests and benchmarks.

Run as ``python -m aiikernel.aimax.fake_agent --flavor claude|codex [agent args…]``. It accepts
the real CLIs' arguments that aimax passes (``--session-id``, ``--resume``, ``--settings``,
``--model``; ``resume <thread>``, ``-c notify=[…]``, ``-m``), reads bracketed paste in raw mode,
draws the flavor's prompt and ready/busy markers, and writes transcript lines in the real
format at the real paths under ``HOME``/``CODEX_HOME`` (Codex: also the ``threads`` table of
``state_5.sqlite``).

Behaviour is scripted two ways:

* the environment variable ``AIMAX_FAKE_SCRIPT`` (JSON): ``startup_delay`` (s before the prompt
  shows), ``blocking_screen`` (text of a dialog shown at start; ``1`` or Enter dismisses it),
  ``swallow_enters`` (how many first Enters to ignore), ``think`` (default seconds per turn),
  ``enter_newline_window`` (an Enter this soon after a paste becomes a newline; Codex default
  0.12 s), ``exit_after`` (exit after N turns);
* directives inside a prompt: ``[[think:2.5]]``, ``[[reply:TEXT]]``, ``[[permission]]`` (ask
  before finishing; Enter approves, Escape denies), ``[[tool:CMD]]`` (a tool call + result),
  ``[[fail]]`` (write ``failed.flag``), ``[[env:NAME]]`` (reply with ``NAME=<value>``), ``[[exit]]`` (exit after the turn).

``/clear`` (Claude) and ``/new`` (Codex) start a new conversation with a new transcript, as the
real TUIs do. Like the real TUIs, a prompt submitted during a turn is queued by Claude (Enter) and by Codex
only with Tab — Enter steers Codex's running turn (the fake replaces the turn).

At turn end it removes ``$AIMAX_FLAG_DIR/running.flag`` (and writes ``failed.flag`` on
``[[fail]]``), honouring the seed's job contract the way a well-instructed agent would.
"""
