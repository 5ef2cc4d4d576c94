"""``aimax``: start, drive and watch Claude Code / Codex sessions from a shell.

Exit codes (scripts may rely on them):

====  ====================================================================
0     success
1     unexpected error
2     usage error or invalid option (missing prompt, cwd that does not exist)
3     unknown session
4     preflight failed: tmux or the agent binary missing, data dir unusable
5     the session already exists (stop it or pick another id)
6     the session's agent is not running (``aimax resume`` restarts it)
7     the prompt was pasted but its submission could not be confirmed
8     the agent shows a screen that needs a human (its text is printed)
130   interrupted (Ctrl-C)
====  ====================================================================
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from typing import Any

from .backends import SUPPORTED_BACKENDS
from .errors import AimaxError, InvalidOptions
from .terminal import printable

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(InvalidOptions):
    """Bad command line."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aimax",
        description="Drive Claude Code and Codex TUIs in a private tmux server.",
        epilog="Exit codes: 0 ok, 2 usage, 3 unknown session, 4 preflight, 5 exists, "
        "6 not running, 7 not delivered, 8 agent blocked.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, session: bool = True, backend_required=False):
        sp.add_argument(
            "-b",
            "--backend",
            choices=SUPPORTED_BACKENDS,
            required=backend_required,
            help="backend (inferred from the session when omitted)",
        )
        if session:
            sp.add_argument("-s", "--session", required=True, help="session id")
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    def prompt_args(sp: argparse.ArgumentParser):
        sp.add_argument("-p", "--prompt", help="prompt text (else --prompt-file, else stdin)")
        sp.add_argument("--prompt-file", help="read the prompt from this file")
        sp.add_argument("--wait", action="store_true", help="wait until the turn ends")
        sp.add_argument("--timeout", type=float, default=600.0, help="seconds for --wait")

    c = sub.add_parser("create", help="start a session (and submit a first prompt)")
    common(c, backend_required=True)
    c.add_argument("--cwd", required=True, help="working directory of the agent")
    prompt_args(c)
    c.add_argument("--model", help="model passed to the agent")
    c.add_argument("--flag-root", help="where .imac/flags/<session>/ lives (default: cwd)")
    c.add_argument("--display-name", help="free-form label")
    c.add_argument("--agent-session-id", help="resume this agent conversation id")
    c.add_argument("--worktree", action="store_true", help="run in a git worktree of cwd")
    proxy = c.add_mutually_exclusive_group()
    proxy.add_argument("--use-proxy", dest="use_proxy", action="store_true", default=None)
    proxy.add_argument("--no-proxy", dest="use_proxy", action="store_false")

    s = sub.add_parser("send", help="queue a prompt (does not interrupt the running turn)")
    common(s)
    prompt_args(s)
    s.add_argument("--interrupt", action="store_true", help="interrupt the running turn first")

    pa = sub.add_parser("pause", help="interrupt the running turn (then send a prompt if given)")
    common(pa)
    prompt_args(pa)

    an = sub.add_parser("answer", help="answer the agent's permission question")
    common(an)
    verdict = an.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--approve", action="store_true", help="approve (Enter)")
    verdict.add_argument("--deny", action="store_true", help="deny (Escape)")

    r = sub.add_parser("resume", help="restart an exited or stopped session's conversation")
    common(r)

    st = sub.add_parser("stop", help="stop a session's agent and archive it")
    common(st)

    ls = sub.add_parser("list", help="list sessions")
    common(ls, session=False)

    stat = sub.add_parser("status", help="state of a session")
    common(stat)

    h = sub.add_parser("history", help="events recorded so far (and the sentinel)")
    common(h)
    h.add_argument("--after", type=int, default=0, help="only events after this sentinel")
    h.add_argument("--limit", type=int, help="at most this many events")

    stream = sub.add_parser("stream", help="follow a session's events live (Ctrl-C stops)")
    common(stream)
    stream.add_argument(
        "--from-sentinel", type=int, help="first replay the events after this sentinel"
    )
    stream.add_argument("--until-idle", action="store_true", help="stop at the end of a turn")

    cfg = sub.add_parser("config", help="configuration")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    show = cfg_sub.add_parser("show", help="print every setting and its environment variable")
    show.add_argument("--json", action="store_true")
    return p


def read_prompt(args: argparse.Namespace, required: bool) -> str | None:
    """-p, else --prompt-file, else piped stdin."""
    if args.prompt is not None and args.prompt_file:
        raise UsageError("give the prompt with -p or --prompt-file, not both")
    if args.prompt is not None:
        text = args.prompt
    elif args.prompt_file:
        try:
            with open(args.prompt_file, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise UsageError(
                f"cannot read --prompt-file {args.prompt_file}: {exc.strerror}"
            ) from None
    elif sys.stdin is not None and not sys.stdin.isatty():
        text = sys.stdin.read() or None  # an empty pipe (or /dev/null) means "no prompt"
    else:
        text = None
    if text is not None and not text.strip():
        raise UsageError("the prompt is empty")
    if text is None and required:
        raise UsageError("no prompt: pass -p TEXT, --prompt-file FILE, or pipe it on stdin")
    return text


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    """JSON (json escapes control characters) or text with controls made visible."""
    if getattr(args, "json", False):
        print(json.dumps(data, default=str))
    else:
        print(printable(text))


async def _wait_turn(backend, session_id: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    await asyncio.sleep(0.3)
    while True:
        status = await backend.status(session_id)
        if status.state in ("idle", "exited", "waiting_permission", "waiting_input"):
            return status
        if time.monotonic() > deadline:
            raise AimaxError(f"timed out after {timeout:.0f}s waiting for the turn to end")
        await asyncio.sleep(0.3)


def _last_reply(backend, session_id: str) -> str | None:
    entries = backend.get_history(session_id)["entries"]
    for entry in reversed(entries):
        if entry["kind"] == "assistant" and entry.get("text"):
            return entry["text"]
    return None


async def _run(args: argparse.Namespace) -> int:
    from .config import AimaxConfig, field_help
    from .manager import AimaxManager

    config = AimaxConfig.from_env()
    if args.command == "config":
        data = config.as_dict()
        if args.json:
            print(json.dumps(data, indent=1))
        else:
            from .config import env_name

            helps = field_help()
            for key, value in data.items():
                print(f"{key:22} = {value}")
                print(f"{'':22}   {env_name(key)}: {helps.get(key, '')}")
        return EXIT_OK

    manager = AimaxManager(config)
    try:
        return await _dispatch(args, manager)
    finally:
        await manager.close()


def _backend(args: argparse.Namespace, manager):
    if args.backend:
        backend = manager.backend(args.backend)
        if getattr(args, "session", None):
            record = manager.registry.find(args.session)
            if record is not None and record.backend != args.backend and args.command != "create":
                raise UsageError(
                    f"session {args.session!r} uses backend {record.backend!r}, not {args.backend!r}"
                )
        return backend
    return manager.backend_for(args.session)


async def _dispatch(args: argparse.Namespace, manager) -> int:
    cmd = args.command
    if cmd == "list":
        rows = []
        names = [args.backend] if args.backend else list(SUPPORTED_BACKENDS)
        await manager.reconcile()
        for name in names:
            backend = manager.backend(name)
            for row in backend.list_sessions():
                row["state"] = "stopped" if row["status"] == "stopped" else "exited"
                if row["status"] == "running":
                    row["state"] = (await backend.status(row["session_id"])).state
                rows.append(row)
        rows.sort(key=lambda r: r["created_at"])
        lines = [f"{'SESSION':20} {'BACKEND':17} {'STATE':18} CWD"] + [
            f"{r['session_id']:20} {r['backend']:17} {r['state']:18} {r['cwd']}" for r in rows
        ]
        _out(args, rows, "\n".join(lines) if rows else "no sessions")
        return EXIT_OK

    prompt = None
    if cmd in ("create", "send", "pause"):  # usage errors first, before any lookup
        prompt = read_prompt(args, required=(cmd == "send"))
    backend = _backend(args, manager)
    sid = args.session
    if cmd == "create":
        handle = await backend.create_new_session(
            {
                "sessionId": sid,
                "cwd": args.cwd,
                "initialPrompt": prompt,
                "model": args.model,
                "flagRoot": args.flag_root,
                "displayName": args.display_name,
                "agentSessionId": args.agent_session_id,
                "useProxy": args.use_proxy,
                "worktree": args.worktree,
            }
        )
        if prompt and args.wait:
            await _wait_turn(backend, sid, args.timeout)
            handle["reply"] = _last_reply(backend, sid)
        text = f"started {sid} ({backend.name}) in {handle['cwd']}"
        if handle.get("reply"):
            text += "\n" + handle["reply"]
        _out(args, handle, text)
    elif cmd in ("send", "pause"):
        if cmd == "pause" and prompt is None:
            interrupted = await backend.interrupt(sid)
            _out(
                args,
                {"sessionId": sid, "interrupted": interrupted},
                "interrupted" if interrupted else "nothing was running",
            )
            return EXIT_OK
        opts = {"sessionId": sid, "prompt": prompt}
        if cmd == "pause" or args.interrupt:
            await backend.pause_current_and_resume_from_session(opts)
        else:
            await backend.no_pause_current_and_queue_query_at_session(opts)
        result: dict[str, Any] = {"sessionId": sid, "sent": True}
        if args.wait:
            await _wait_turn(backend, sid, args.timeout)
            result["reply"] = _last_reply(backend, sid)
        _out(args, result, result.get("reply") or "sent")
    elif cmd == "answer":
        question = await backend.answer_permission(sid, approve=args.approve)
        verdict = "approved" if args.approve else "denied"
        _out(
            args,
            {"sessionId": sid, "approved": args.approve, "question": question},
            f"{verdict}: {question}",
        )
    elif cmd == "resume":
        handle = await backend.resume_session(sid)
        _out(args, handle, f"resumed {sid}")
    elif cmd == "stop":
        result = await backend.terminate_session(sid)
        _out(
            args,
            result,
            f"stopped {sid}" if result["killed"] else f"{sid} was not running; archived",
        )
    elif cmd == "status":
        status = await backend.status(sid)
        data = status.model_dump()
        text = f"{sid}: {status.state}" + (f"\n{status.detail}" if status.detail else "")
        _out(args, data, text)
    elif cmd == "history":
        hist = backend.get_history(sid, after=args.after, limit=args.limit)
        lines = [_event_line(e) for e in hist["entries"]]
        lines.append(f"-- sentinel {hist['sentinel']} (total {hist['total']})")
        _out(args, hist, "\n".join(lines))
    elif cmd == "stream":
        return await _stream(args, backend, sid)
    return EXIT_OK


def _event_line(event: dict[str, Any]) -> str:
    text = (event.get("text") or "").replace("\n", "\n    ")
    label = event["kind"] + (f"/{event['subtype']}" if event.get("subtype") else "")
    return f"[{event['seq']}] {label}: {text}" if text else f"[{event['seq']}] {label}"


async def _stream(args: argparse.Namespace, backend, sid: str) -> int:
    queue: asyncio.Queue = asyncio.Queue()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    unsubscribe = backend.get_agent_raw_thought_stream(
        sid,
        lambda event: loop.call_soon_threadsafe(queue.put_nowait, event),
        {"fromSentinel": args.from_sentinel},
    )
    try:
        while not stop.is_set():
            getter = asyncio.ensure_future(queue.get())
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if getter not in done:
                getter.cancel()
                break
            event = getter.result().model_dump(mode="json")
            if args.json:
                print(json.dumps(event), flush=True)
            else:
                print(printable(_event_line(event)), flush=True)
            if args.until_idle and event["kind"] in ("turn_end", "interrupted"):
                return EXIT_OK
    finally:
        unsubscribe()
    return EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``aimax`` script."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return asyncio.run(_run(args))
    except AimaxError as exc:
        print(printable(f"aimax: {exc}"), file=sys.stderr)
        screen = getattr(exc, "screen", "")
        if screen and screen not in str(exc):
            print(printable(screen), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
