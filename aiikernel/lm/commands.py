"""Commands for models: /model, /image, /usage, /wire, /mlflow, /tabminion.

Each handler only parses, calls the module that does the work and formats the
answer. The credential commands (/login, /logout, /auth) are :mod:`.auth_commands`.
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
