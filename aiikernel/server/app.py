"""AimaxExtension: the jupyter-server extension that serves aimax sessions over REST + websocket
(and starts the user's model gateway in the background, :attr:`~AimaxExtension.start_model_gateway`).

It builds one :class:`~aiikernel.aimax.manager.AimaxManager` (wrapped in the policy layer,
:class:`~.service.AimaxService`) per server in :meth:`initialize_settings`, registers the routes
of :mod:`.routes`, reconciles with tmux once the event loop runs, and on shutdown leaves the
agents running in tmux unless ``stop_agents_on_shutdown`` is set (the seed's promise: a server
restart does not kill anyone's agent).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Int, List, TraitError, Type, Unicode, validate

from aiikernel.aimax.backends import SUPPORTED_BACKENDS

from .handlers import SERVICE_SETTING


class AimaxExtension(ExtensionApp):
    """Agent sessions (Claude Code, Codex in tmux) for this Jupyter server."""

    name = "aimax"
    description = "aimax: Claude Code / Codex sessions in tmux, over REST and websocket"
    load_other_extensions = True

    enabled = Bool(
        True,
        config=True,
        help="Serve the /aimax API. False registers no routes and starts nothing.",
    )
    allowed_backends = List(
        Unicode(),
        default_value=list(SUPPORTED_BACKENDS),
        config=True,
        help=f"Backends clients may start ({', '.join(SUPPORTED_BACKENDS)}, or the name of a "
        "backend another package registers in the `aiikernel.aimax.backends` entry-point group).",
    )
    max_sessions = Int(
        20, config=True, help="Most sessions running at once; creating more answers 429."
    )
    max_prompt_bytes = Int(
        256 * 1024,
        config=True,
        help="Largest prompt (UTF-8 bytes) accepted by create and send; larger answers 413.",
    )
    max_body_bytes = Int(
        0,
        config=True,
        help="Largest request body (bytes) of the /aimax REST routes, refused with 413 by its "
        "Content-Length (or as it streams in) before anything is parsed. 0: four times "
        "max_prompt_bytes plus 64 KiB (room for JSON escapes).",
    )
    max_history_limit = Int(
        1000, config=True, help="Most events one history request returns (its `limit` cap)."
    )
    status_ttl = Float(
        0.5,
        config=True,
        help="Seconds a computed session state is reused by concurrent list/status calls.",
    )
    stream_queue_limit = Int(
        10_000,
        config=True,
        help="Events buffered for one websocket client before it is told to reconnect.",
    )
    max_streams_per_user = Int(
        32,
        config=True,
        help="Most websocket streams one user may have open; more are closed at once with "
        "code 4429 and a reason naming this limit.",
    )
    max_streams = Int(
        256,
        config=True,
        help="Most websocket streams open on this server (all users); more are closed at once "
        "with code 4429 and a reason naming this limit.",
    )
    stop_agents_on_shutdown = Bool(
        False,
        config=True,
        help="Stop every running agent when the server shuts down. By default agents keep "
        "running in tmux and the next server start picks them up again.",
    )
    aimax_config = Dict(
        config=True,
        help="Overrides of aimax's settings (AimaxConfig fields, e.g. tmux_socket, data_dir, "
        "claude_bin); the AIMAX_* environment variables still apply underneath.",
    )
    start_model_gateway = Bool(
        True,
        config=True,
        help="Start the user's model gateway (one process holding litellm for every kernel) "
        "in the background when the server starts, so the first AI turn of the first notebook "
        "finds it warm. Only when kernels use it: AIIPYTHON_LM_BACKEND unset, 'auto' or "
        "'gateway'. Never delays the server's start; a gateway that cannot start is logged and "
        "kernels try again themselves.",
    )
    freeze_startup_objects = Bool(
        True,
        config=True,
        help="Once the server has started, collect garbage once and move every object made so "
        "far out of the garbage collector's sight (gc.freeze). Those objects (modules, classes, "
        "settings: most of the heap) live as long as the server; left in view, each full "
        "collection walks them all and stops every thread for ~80 ms, which agents' events "
        "streaming to clients then wait out.",
    )
    loop_lag_file = Unicode(
        "",
        config=True,
        help="Benchmarks: append the server event loop's lag samples (JSON lines, one per "
        "second) to this file. Empty: not measured.",
    )
    service_class = Type(
        default_value="aiikernel.server.service.AimaxService",
        klass=object,
        config=True,
        help="The policy layer around the aimax manager (subclass AimaxService to change it).",
    )

    @validate("allowed_backends")
    def _known_backends(self, proposal: dict[str, Any]) -> list[str]:
        from aiikernel.aimax.backends import available_backends

        known = available_backends()
        unknown = [b for b in proposal["value"] if b not in known]
        if unknown:
            raise TraitError(f"unknown backends {unknown}; choose from {known}")
        return proposal["value"]

    @validate("max_streams_per_user", "max_streams")
    def _at_least_one(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] < 1:
            raise TraitError(f"{proposal['trait'].name} must be at least 1")
        return proposal["value"]

    @validate("aimax_config")
    def _known_fields(self, proposal: dict[str, Any]) -> dict[str, Any]:
        from aiikernel.aimax.config import AimaxConfig

        names = {f.name for f in dataclasses.fields(AimaxConfig)}
        unknown = sorted(set(proposal["value"]) - names)
        if unknown:
            raise TraitError(f"unknown aimax_config keys {unknown}; see `aimax config show`")
        return proposal["value"]

    def _aimax_config(self) -> Any:
        from aiikernel.aimax.config import AimaxConfig

        paths = {f.name for f in dataclasses.fields(AimaxConfig) if f.type in ("Path", Path)}
        overrides = {
            k: Path(v).expanduser() if k in paths else v for k, v in self.aimax_config.items()
        }
        return AimaxConfig.from_env(**overrides)

    def initialize_settings(self) -> None:
        """Build the one manager (and its service) this server uses."""
        if not self.enabled:
            self.log.info("aimax: disabled (AimaxExtension.enabled = False)")
            return
        from aiikernel.aimax.manager import AimaxManager

        from .service import ServerPolicy

        policy = ServerPolicy(
            root_dir=Path(self.serverapp.root_dir),
            allowed_backends=tuple(self.allowed_backends),
            max_sessions=self.max_sessions,
            max_prompt_bytes=self.max_prompt_bytes,
            max_history_limit=self.max_history_limit,
            status_ttl=self.status_ttl,
            max_streams_per_user=self.max_streams_per_user,
            max_streams=self.max_streams,
        )
        self.service = self.service_class(AimaxManager(self._aimax_config()), policy)
        self.settings[SERVICE_SETTING] = self.service
        self.settings["aimax_stream_queue_limit"] = self.stream_queue_limit
        self.settings["aimax_max_body_bytes"] = self.max_body_bytes or (
            4 * self.max_prompt_bytes + 64 * 1024
        )

    def initialize_handlers(self) -> None:
        if self.enabled:
            from .routes import default_handlers

            self.handlers.extend(default_handlers())

    def start_gateway_in_background(self) -> threading.Thread | None:
        """Start (or find) the model gateway on a daemon thread; None when not wanted."""
        backend = os.environ.get("AIIPYTHON_LM_BACKEND", "auto").strip().lower() or "auto"
        if not self.start_model_gateway or backend not in ("auto", "gateway"):
            self.log.info(
                "model gateway: not started with the server (start_model_gateway=%s, backend %s)",
                self.start_model_gateway,
                backend,
            )
            return None

        def start() -> None:
            from aiikernel.gateway.lifecycle import GatewayUnavailable, ensure_gateway

            try:
                hello = ensure_gateway()
                self.log.info("model gateway ready: pid %s (%s)", hello.pid, hello.version)
            except GatewayUnavailable as exc:
                self.log.warning("model gateway not started: %s", exc)
            except Exception:
                self.log.exception("model gateway not started")

        thread = threading.Thread(target=start, name="aiikernel-gateway-start", daemon=True)
        thread.start()
        return thread

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Once the loop runs: start the model gateway in the background; reconcile with tmux
        and resume tailing live sessions."""
        self.start_gateway_in_background()
        if self.loop_lag_file:
            from .looplag import LoopLagProbe

            self._lag_probe = LoopLagProbe(Path(self.loop_lag_file))
            self._lag_probe.start()
        service = getattr(self, "service", None)
        if service is not None:
            found = await service.ready()
            if found:
                self.log.info("aimax: %d sessions found in tmux", len(found))
        if self.freeze_startup_objects:
            self._freeze_startup_objects()
        else:
            self.log.info("aimax: start-up objects left in the garbage collector's sight")

    def _freeze_startup_objects(self) -> None:
        import gc

        gc.collect()
        gc.freeze()
        self.log.info(
            "aimax: %d start-up objects moved out of the garbage collector's sight (gc.freeze)",
            gc.get_freeze_count(),
        )

    async def stop_extension(self) -> None:
        """Stop tails and the monitor; agents keep running unless configured otherwise."""
        probe = getattr(self, "_lag_probe", None)
        if probe is not None:
            await probe.stop()
        service = getattr(self, "service", None)
        if service is not None:
            await service.shutdown(stop_agents=self.stop_agents_on_shutdown)
