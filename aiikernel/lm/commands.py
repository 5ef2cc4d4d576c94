"""Commands for models and credentials: /model, /login, /logout, /auth, /image, /usage, /wire,
/mlflow, /tabminion.

Each handler only parses, calls the module that does the work and formats the
answer; keys are shown as their last 4 characters at most, and a key typed into a
cell is scrubbed from IPython's history (see :func:`scrub_secret_from_history`).
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

from ..commands import CommandError, CommandResult, command, split_args
from .errors import ModelError

if TYPE_CHECKING:
    from .session_view import SessionView

log = logging.getLogger(__name__)


# -- /model -------------------------------------------------------------------


def current_model_source(session: SessionView) -> tuple[str, str]:
    """The model the next turn uses, and why (``chosen in this kernel``, ``remembered`` …)."""
    from .models import DEFAULT_MODEL
    from .settings import load_settings

    if session.model_override:
        return session.model_override, "chosen in this kernel"
    remembered = load_settings().last_model
    if remembered:
        return remembered, "remembered in settings.json"
    env = os.environ.get("AIIPYTHON_MODEL", "").strip()
    if env:
        return env, "from AIIPYTHON_MODEL"
    return DEFAULT_MODEL, "default"


def _validate_model_name(text: str) -> str:
    provider, sep, name = text.partition("/")
    if not sep or not provider or not name or any(c.isspace() for c in text):
        raise CommandError(f"{text!r} is not a model name: use PROVIDER/NAME, e.g. openai/gpt-4o")
    return f"{provider.lower()}/{name}"


def _format_listing(listing: Any, limit: int = 40) -> str:
    if listing.status == "ok":
        names = [f"`{listing.provider}/{m}`" for m in listing.models[:limit]]
        more = f" … and {len(listing.models) - limit} more" if len(listing.models) > limit else ""
        body = ", ".join(names) + more if names else "(no models listed)"
        return f"- **{listing.provider}** ({len(listing.models)}): {body}"
    if listing.status == "unavailable":
        return f"- **{listing.provider}**: unavailable — {listing.reason}"
    return f"- {listing.provider}: {listing.reason}"


@command(
    "model",
    usage="/model [refresh | PROVIDER/NAME]",
    help="List models (live discovery + recent), refresh the list, or switch and remember a model.",
)
def model_command(session: SessionView, args: str) -> CommandResult:
    from .discovery import DiscoveryFailed, model_catalog
    from .settings import load_settings, remember_model, settings_problem

    words = split_args(args)
    if len(words) > 1:
        raise CommandError("give one model name, or `refresh`")
    if words and words[0] != "refresh":
        return _switch_model(session, _validate_model_name(words[0]), remember_model)
    catalog = model_catalog(session)
    try:
        discovery, cached = catalog.get(refresh=bool(words))
    except DiscoveryFailed as exc:
        raise CommandError(str(exc)) from None
    current, why = current_model_source(session)
    settings = load_settings()
    lines = [f"**Current model:** `{current}` ({why})", ""]
    age = max(0.0, time.time() - discovery.fetched_at)
    lines.append(
        f"**Available** ({'cached, ' if cached else ''}checked {age:.0f} s ago; `/model refresh` to re-check):"
    )
    lines += [_format_listing(listing) for listing in discovery.listings]
    recent = recent_models(session, settings.recent_models)
    if recent:
        lines += ["", "**Recent:** " + ", ".join(f"`{m}`" for m in recent)]
    problem = settings_problem()
    if problem:
        lines += ["", f"⚠ {problem}"]
    lines += ["", "Switch with `/model PROVIDER/NAME` (remembered for the next kernels too)."]
    return CommandResult(
        "\n".join(lines),
        data={
            "current": current,
            "current_source": why,
            "cached": cached,
            "listings": [listing.model_dump() for listing in discovery.listings],
            "recent": recent,
        },
    )


def recent_models(session: SessionView, remembered: list[str]) -> list[str]:
    """Models used in this kernel (latest first), then those chosen with /model before."""
    from .usage import usage_tracker

    used = [turn.model for turn in reversed(usage_tracker(session).turns)]
    return list(dict.fromkeys([*used, *remembered]))


def _switch_model(session: SessionView, model: str, remember: Any) -> CommandResult:
    from .credentials import resolve_credential
    from .errors import MissingCredentials

    session.model_override = model
    try:
        credential = resolve_credential(model)
        footer = f"\n\nCredentials: {credential.source}." if credential.source != "none" else ""
    except MissingCredentials as exc:
        credential, footer = None, f"\n\n⚠ {exc}"
    notes = []
    try:
        remember(model, recent=credential is not None)  # no key: not a "Recent" model
        notes.append("remembered in settings.json for new kernels")
    except OSError as exc:
        notes.append(f"not remembered: settings.json could not be written ({exc.strerror})")
    text = f"Switched to `{model}` ({'; '.join(notes)})." + footer
    return CommandResult(text, data={"current": model})


# -- credentials ----------------------------------------------------------------


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


# -- /image ---------------------------------------------------------------------


def _vision_check(session: SessionView, model: str) -> bool:
    """Whether ``model`` accepts images: asked of the session's model client when it can say
    (the gateway's client asks the gateway, so the kernel need not import litellm)."""
    client = getattr(session, "client", None)
    ask = getattr(client, "supports_vision", None)
    if callable(ask):
        return bool(ask(model))
    from .providers import supports_vision

    return supports_vision(model)


@command(
    "image",
    usage="/image PATH",
    help="Load an image into the `images` dict and attach it to the next prompt (vision models).",
)
def image_command(session: SessionView, args: str) -> CommandResult:
    from .config import models_config
    from .images import ImageError, load_image, store_image

    words = split_args(args)
    if len(words) != 1:
        raise CommandError("give one image path (quote it if it has spaces)")
    try:
        image = load_image(words[0], max_bytes=models_config(session).max_image_bytes)
        key = store_image(session.namespace, image)
    except ImageError as exc:
        raise CommandError(str(exc)) from None
    session.mark_changed("images")  # so the next checkpoint re-examines the dict
    model, _ = current_model_source(session)
    size = f"{image.mime.split('/')[1].upper()}, {len(image.data) / 1024:,.0f} KB"
    if not _vision_check(session, model):
        return CommandResult(
            f"Loaded `images[{key!r}]` ({size}), but **not attached**: `{model}` does not accept "
            "images. Switch to a vision model (`/model PROVIDER/NAME`) and run `/image` again.",
            ok=False,
            data={"image": key, "attached": False, "model": model},
        )
    session.pending_attachments.append(image.content_part())
    pending = sum(1 for p in session.pending_attachments if p.get("type") == "image_url")
    return CommandResult(
        f"Loaded `images[{key!r}]` ({size}) and attached it to your next prompt "
        f"({pending} image(s) pending) for `{model}`.",
        data={"image": key, "attached": True, "model": model, "pending": pending},
    )


# -- /usage, /wire ----------------------------------------------------------------


@command(
    "usage",
    usage="/usage",
    help="Tokens and cost of the last turn and of this session (and of all kernels, through "
    "the model gateway).",
)
def usage_command(session: SessionView, args: str) -> CommandResult:
    from .usage import format_usage, usage_tracker

    tracker = usage_tracker(session)
    data = tracker.summary()
    gateway = None
    ask = getattr(getattr(session, "client", None), "usage_ledger", None)
    if callable(ask):
        try:
            gateway = ask()
        except ModelError as exc:
            log.debug("no usage from the model gateway: %s", exc)
        if gateway is not None:
            data["gateway"] = gateway.model_dump(mode="json")
    return CommandResult(format_usage(tracker, gateway), data=data)


@command(
    "wire",
    usage="/wire [N]",
    help="Show the last N raw model requests/responses (secrets redacted; default 3).",
)
def wire_command(session: SessionView, args: str) -> CommandResult:
    from .config import models_config
    from .session_wire import wire_log
    from .wire import format_entry

    words = split_args(args)
    if len(words) > 1 or (words and not words[0].isdigit()):
        raise CommandError("N must be a whole number")
    count = int(words[0]) if words else 3
    log_ = wire_log(session)
    entries = log_.last(count)
    config = models_config(session)
    where = (
        f"Also appended to `{log_.path}`."
        if log_.path
        else "Kept in memory only (set `%config AiModels.wire_log_file = 'wire.jsonl'` to keep a file)."
    )
    if not entries:
        return CommandResult(f"No model requests yet. {where}", data={"entries": []})
    text = "\n\n---\n\n".join(format_entry(e) for e in entries)
    return CommandResult(
        f"{text}\n\n{where} Keeping the last {config.wire_log_size}.",
        data={"entries": [e.model_dump(mode="json") for e in entries]},
    )


# -- /mlflow, /tabminion ---------------------------------------------------------------


_UI_ATTR = "_aiikernel_mlflow_ui"


@command(
    "mlflow",
    usage="/mlflow [on | off | status | ui | stop]",
    help="Trace every model call to MLflow (optional extra aiikernel[mlflow]); start its UI.",
)
def mlflow_command(session: SessionView, args: str) -> CommandResult:
    from . import mlflow_tracing as mt
    from .session_wire import wire_log

    words = split_args(args)
    action = words[0] if words else "start"
    if action not in ("start", "on", "off", "status", "ui", "stop") or len(words) > 1:
        raise CommandError(f"unknown action {' '.join(words)!r}")
    wire = wire_log(session)
    ui = getattr(session, _UI_ATTR, None)
    if ui is None:
        ui = mt.MlflowUi()
        setattr(session, _UI_ATTR, ui)
    if action != "status" and action not in ("off", "stop") and not mt.mlflow_installed():
        return CommandResult(
            f"MLflow is not installed in the kernel's environment. Install it with "
            f"`{mt.INSTALL_HINT}` and restart the kernel.",
            ok=False,
            data={"installed": False},
        )
    lines = []
    if action in ("start", "on"):
        sink = mt.enable_tracing(wire)
        lines.append(f"MLflow tracing is **on**: `{sink.uri}`, experiment `{sink.experiment}`.")
    if action in ("start", "ui"):
        url = ui.start()
        lines.append(
            f"MLflow UI (pid {ui.process.pid if ui.process else '?'}): {url} — it may take "
            f"a minute to answer; its log is `{ui.log_path}`. `/mlflow stop` stops it."
        )
    if action == "off":
        lines.append(
            "MLflow tracing is **off**." if mt.disable_tracing(wire) else "Tracing was not on."
        )
    if action == "stop":
        lines.append("Stopped the MLflow UI." if ui.stop() else "The MLflow UI was not running.")
    sink = mt.tracing_sink(wire)
    if action == "status":
        lines.append(f"MLflow installed: {'yes' if mt.mlflow_installed() else 'no'}.")
        lines.append(
            f"Tracing: {'on' if sink else 'off'} — `{mt.tracking_uri()}`, "
            f"experiment `{mt.experiment_name()}`"
            + (f", {sink.traced} call(s) traced." if sink else ".")
        )
        lines.append(f"UI: {ui.url if ui.running else 'not running'}.")
    return CommandResult(
        "\n\n".join(lines),
        data={
            "installed": mt.mlflow_installed(),
            "tracing": sink is not None,
            "tracking_uri": mt.tracking_uri(),
            "experiment": mt.experiment_name(),
            "ui": ui.url if ui.running else None,
        },
    )


@command(
    "tabminion",
    usage="/tabminion",
    help="Show whether TabMinion (browser AI subscriptions) is running and which AIs it offers.",
)
def tabminion_command(session: SessionView, args: str) -> CommandResult:
    from .providers import tabminion_status

    status = tabminion_status(timeout=2.0)
    return CommandResult(status.markdown(), ok=True, data=status.model_dump())
