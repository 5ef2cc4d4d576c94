"""Commands for credentials: /login, /logout, /auth.

Keys are shown as their last 4 characters at most, never logged, and a key typed into a
cell is scrubbed from IPython's history (see :func:`scrub_secret_from_history`).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from ..commands import CommandError, CommandResult, command

if TYPE_CHECKING:
    from .session_view import SessionView

log = logging.getLogger(__name__)


LOGIN_USAGE = """\
**Sign in to a model provider**

- `/login PROVIDER` — asks for the key in a password prompt (nothing is echoed or kept in history)
- `/login PROVIDER KEY` — stores KEY (the cell's history entry is scrubbed)
- `/logout PROVIDER` — forgets what is stored for PROVIDER
- `/auth` — shows which credential each provider uses

Keys are stored in `{path}` (mode 0600). Priority per provider: OAuth token > stored key >
environment variable. Codex (`~/.codex/auth.json`) and Pi (`~/.pi/agent/auth.json`) logins are
imported automatically the first time. Browser OAuth sign-in is not available inside a kernel:
sign in with Codex or Pi and their tokens are picked up."""


def _looks_like_a_key(word: str) -> bool:
    from .errors import redact

    return len(word) > 40 or redact(word) != word


def _looks_masked(key: str) -> bool:
    return "…" in key or key.startswith("<hidden") or "[REDACTED]" in key


def _prompt_for_key(session: SessionView, provider: str) -> str | None:
    """Ask for the key with the frontend's password prompt, when this runs inside a cell."""
    import getpass

    shell = session.shell
    kernel = getattr(shell, "kernel", None)
    if kernel is not None and getattr(getpass.getpass, "__self__", None) is not kernel:
        return None  # not inside an execute request (e.g. the chat panel): no stdin to ask
    try:
        return getpass.getpass(f"API key for {provider}: ")
    except Exception as exc:  # StdinNotImplementedError and friends
        log.debug("no password prompt available: %s", type(exc).__name__)
        return None


@command(
    "login",
    usage="/login [PROVIDER [KEY]]",
    help="Store an API key for a provider (prompted when KEY is left out).",
)
def login_command(session: SessionView, args: str) -> CommandResult:
    from .auth import (
        AuthFileError,
        AuthStore,
        check_provider_name,
        listed_providers,
        mask,
        plausible_provider,
    )
    from .discovery import model_catalog

    words = args.split()
    store = AuthStore()
    if not words:
        return CommandResult(LOGIN_USAGE.format(path=store.path))
    if len(words) > 2:
        raise CommandError("expected a provider and at most one key")
    provider = words[0].lower()
    if _looks_like_a_key(words[0]):
        scrub_secret_from_history(session.shell, words[0])
        raise CommandError("that looks like a key, not a provider: `/login PROVIDER KEY`")
    try:
        check_provider_name(provider)
    except ValueError as exc:
        scrub_secret_from_history(session.shell, words[0])
        raise CommandError(str(exc)) from None
    try:
        stored = set(store.load().providers)
    except AuthFileError:
        stored = set()
    known = listed_providers(stored)
    if not plausible_provider(provider, known):
        # Never echo it: `/login KEY PROVIDER` puts the key here.
        scrub_secret_from_history(session.shell, words[0])
        if len(words) == 2 and words[1].lower() in known:
            raise CommandError(
                "the arguments look swapped (the key first?): use `/login PROVIDER KEY`; "
                "nothing was stored"
            )
        raise CommandError(
            "that is not a provider this kernel knows (e.g. openai, anthropic, gemini, "
            "mistral, groq; named endpoints come from settings.json); nothing was stored"
        )
    if len(words) == 2:
        key = words[1]
        scrub_secret_from_history(session.shell, key)
    else:
        key = _prompt_for_key(session, provider)
        if key is None:
            return CommandResult(
                f"No password prompt is available here. Run `/login {provider} KEY`, "
                "or sign in with Codex / Pi and their tokens are imported.\n\n"
                + LOGIN_USAGE.format(path=store.path),
                ok=False,
            )
        key = key.strip()
    if not key or any(c.isspace() for c in key):
        raise CommandError("the key is empty or contains spaces")
    if _looks_masked(key):
        raise CommandError("that is a masked key from history, not a key; give the real key")
    try:
        store.set_api_key(provider, key)
    except AuthFileError as exc:
        raise CommandError(f"{exc}; fix or move it, then run /login again") from None
    model_catalog(session).invalidate()
    active = store.lookup(provider)
    text = f"Stored the API key {mask(key)} for **{provider}** in `{store.path}` (mode 0600)."
    if active is not None and active.source == "oauth":
        text += f"\n\nNote: an OAuth token for {provider} is also stored and takes precedence."
    return CommandResult(text, data={"provider": provider, "stored": True})


@command("logout", usage="/logout PROVIDER", help="Forget the stored credentials of a provider.")
def logout_command(session: SessionView, args: str) -> CommandResult:
    from .auth import AuthFileError, AuthStore
    from .credentials import env_vars_of
    from .discovery import model_catalog

    words = args.split()
    if len(words) != 1:
        raise CommandError("name one provider, e.g. `/logout openai`")
    if _looks_like_a_key(words[0]):
        scrub_secret_from_history(session.shell, words[0])
        raise CommandError("that looks like a key; name the provider, e.g. `/logout openai`")
    provider = words[0].lower()
    from .auth import check_provider_name

    try:
        check_provider_name(provider)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    store = AuthStore()
    try:
        removed = store.remove(provider)
    except AuthFileError as exc:
        raise CommandError(f"{exc}; fix or move it, then run /logout again") from None
    model_catalog(session).invalidate()
    if not removed:
        text = f"Nothing was stored for **{provider}** in `{store.path}`."
    else:
        text = f"Removed the {' and the '.join(removed)} of **{provider}** from `{store.path}`."
    still = [v for v in env_vars_of(provider) if os.environ.get(v)]
    if still:
        text += f"\n\n{still[0]} is still set in the kernel's environment and will be used."
    return CommandResult(text, data={"provider": provider, "removed": removed})


def auth_rows() -> list[dict[str, Any]]:
    """Each provider's credential sources in priority order, with the active one (no secrets)."""
    from .auth import AuthStore, known_providers, mask
    from .credentials import KEYLESS_PROVIDERS, env_vars_of
    from .providers import custom_providers

    data = AuthStore().load()
    custom = custom_providers()
    names = list(dict.fromkeys([*known_providers(), *data.providers, *custom]))
    rows = []
    for provider in names:
        entry = data.providers.get(provider)
        sources: list[dict[str, Any]] = []
        if entry is not None and entry.oauth is not None:
            token = entry.oauth.access.get_secret_value()
            sources.append(
                {
                    "source": "oauth",
                    "key": mask(token),
                    "usable": not entry.oauth.expired(),
                    "note": "expired"
                    if entry.oauth.expired()
                    else (f"imported from {entry.oauth_from}" if entry.oauth_from else ""),
                }
            )
        if entry is not None and entry.api_key is not None:
            sources.append(
                {
                    "source": "auth.json",
                    "key": mask(entry.api_key.get_secret_value()),
                    "usable": True,
                    "note": f"imported from {entry.api_key_from}" if entry.api_key_from else "",
                }
            )
        for var in env_vars_of(provider):
            value = os.environ.get(var)
            if value:
                sources.append(
                    {"source": f"env:{var}", "key": mask(value), "usable": True, "note": ""}
                )
        active = next((s for s in sources if s["usable"]), None)
        always_listed = provider in ("anthropic", "openai", "gemini") or provider in custom
        if not sources and not always_listed:
            continue  # one of litellm's many providers, with nothing configured
        keyless = provider in KEYLESS_PROVIDERS or provider in custom
        rows.append(
            {
                "provider": provider,
                "active": active["source"] if active else ("keyless" if keyless else None),
                "key": active["key"] if active else None,
                "sources": sources,
            }
        )
    return rows


@command("auth", usage="/auth", help="Show which credential each provider uses (keys masked).")
def auth_command(session: SessionView, args: str) -> CommandResult:
    from .auth import AuthFileError, AuthStore

    try:
        rows = auth_rows()
    except AuthFileError as exc:
        raise CommandError(str(exc)) from None
    lines = [
        "| provider | active source | key | other sources |",
        "|---|---|---|---|",
    ]
    for row in rows:
        others = [
            f"{s['source']} {s['key']}" + (f" ({s['note']})" if s["note"] else "")
            for s in row["sources"]
            if s["source"] != row["active"]
        ]
        lines.append(
            f"| {row['provider']} | {row['active'] or '— none —'} | {row['key'] or ''} | "
            f"{'; '.join(others)} |"
        )
    lines += [
        "",
        f"Priority: OAuth token > stored key (`{AuthStore().path}`) > environment variable.",
    ]
    return CommandResult("\n".join(lines), data={"providers": rows})


def scrub_secret_from_history(shell: Any, secret: str) -> int:
    """Replace ``secret`` in IPython's input history (memory, ``_i*``/``In``, and the SQLite DB).

    ``/login openai sk-…`` typed in a cell is stored before the command runs; this
    rewrites those entries with the key masked.  Returns how many places were changed.
    """
    if shell is None or not secret:
        return 0
    from .auth import mask

    masked = f"<hidden key {mask(secret)}>"
    changed = 0
    hm = getattr(shell, "history_manager", None)
    if hm is not None:
        for attr in ("input_hist_parsed", "input_hist_raw"):
            entries = getattr(hm, attr, None)
            if isinstance(entries, list):
                for i, text in enumerate(entries):
                    if isinstance(text, str) and secret in text:
                        entries[i] = text.replace(secret, masked)
                        changed += 1
        for attr in ("_i00", "_i", "_ii", "_iii"):
            value = getattr(hm, attr, None)
            if isinstance(value, str) and secret in value:
                setattr(hm, attr, value.replace(secret, masked))
        lock = getattr(hm, "db_input_cache_lock", None)
        if lock is not None:
            with lock:
                hm.db_input_cache = [
                    tuple(v.replace(secret, masked) if isinstance(v, str) else v for v in row)
                    for row in hm.db_input_cache
                ]
                changed += _scrub_db(hm, secret, masked)
    namespace = getattr(shell, "user_ns", {})
    for name, value in list(namespace.items()):
        if name.startswith("_i") and isinstance(value, str) and secret in value:
            namespace[name] = value.replace(secret, masked)
            changed += 1
    return changed


def _scrub_db(hm: Any, secret: str, masked: str) -> int:
    db = getattr(hm, "db", None)
    if db is None or not getattr(hm, "enabled", True) or not hasattr(db, "execute"):
        return 0
    try:
        with db:
            cursor = db.execute(
                "UPDATE history SET source = replace(source, ?, ?), "
                "source_raw = replace(source_raw, ?, ?) "
                "WHERE instr(source, ?) > 0 OR instr(source_raw, ?) > 0",
                (secret, masked, secret, masked, secret, secret),
            )
            return cursor.rowcount or 0
    except Exception as exc:  # never mention the secret; the history DB may be read-only
        log.warning("could not scrub the history database: %s", type(exc).__name__)
        return 0
