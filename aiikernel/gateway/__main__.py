"""``python -m aiikernel.gateway [serve|status|stop]``: run, inspect or stop the user's gateway.

Kernels start it themselves (:func:`aiikernel.gateway.lifecycle.ensure_gateway`); the
command is for people: ``status`` prints who answers on the socket, ``stop`` stops it.
Options: ``--home`` (default ``$AIIPYTHON_HOME``), ``--dir`` (the gateway's directory),
and any ``--GatewayServer.<trait>=…`` (e.g. ``--GatewayServer.idle_timeout=60``); the same
traits can live in ``aiikernel_gateway_config.py`` in a Jupyter config directory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
from pathlib import Path

from traitlets import Enum, Unicode
from traitlets.config import Application

from .lifecycle import probe, stop_gateway
from .paths import GatewayPaths, UnsafePath, gateway_paths, prepare
from .server import GatewayServer


class GatewayApp(Application):
    """The model gateway as a command."""

    name = "aiikernel-gateway"
    description = (
        "One model gateway per user: litellm, credentials and the wire log for every kernel."
    )
    classes = [GatewayServer]
    aliases = {
        "home": "GatewayApp.home",
        "dir": "GatewayApp.directory",
        "log-level": "Application.log_level",
    }

    home = Unicode(
        "", help="The AIIPYTHON_HOME served (default: $AIIPYTHON_HOME or ~/.aiipython)."
    ).tag(config=True)
    directory = Unicode(
        "", help="The gateway's directory (socket, lock, state); default: derived from the home."
    ).tag(config=True)
    command = Enum(["serve", "status", "stop"], "serve", help="What to do.")

    def initialize(self, argv: list[str] | None = None) -> None:
        super().initialize(argv)
        if self.extra_args:
            self.command = self.extra_args[0]
        try:
            from jupyter_core.paths import jupyter_config_path

            for path in reversed(jupyter_config_path()):
                self.load_config_file("aiikernel_gateway_config", path=path)
        except Exception:  # no jupyter_core, or a broken config file: say so, go on
            self.log.debug("no gateway config file loaded", exc_info=True)
        self.update_config(self.cli_config)  # the command line wins over files

    def paths(self) -> GatewayPaths:
        default = gateway_paths(Path(self.home) if self.home else None)
        if self.directory:
            return GatewayPaths(Path(self.directory), default.home)
        return default

    def start(self) -> None:
        paths = self.paths()
        if self.command == "status":
            hello = probe(paths)
            found = hello.model_dump() if hello else {"running": False, "dir": str(paths.directory)}
            sys.stdout.write(json.dumps(found) + "\n")
            return
        if self.command == "stop":
            pid = stop_gateway(paths)
            sys.stdout.write(f"stopped gateway pid {pid}\n" if pid else "no gateway running\n")
            return
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        for noisy in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)  # request lines, URLs: not needed
        try:
            prepare(paths)
        except UnsafePath as exc:
            self.log.error("refusing to serve: %s", exc)
            self.exit(2)
        if _someone_listens(paths):
            self.log.error("a gateway already listens on %s", paths.socket)
            self.exit(3)
        server = GatewayServer(paths, parent=self)
        asyncio.run(server.run())


def _someone_listens(paths: GatewayPaths) -> bool:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(paths.socket))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def main(argv: list[str] | None = None) -> None:
    GatewayApp.launch_instance(argv)


if __name__ == "__main__":
    main()
