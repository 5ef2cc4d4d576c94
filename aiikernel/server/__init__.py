"""aiikernel's jupyter-server extension (placeholder).

It only proves that the server loads the extension; the REST and websocket API for
agent sessions (design.md section 6) replaces this module later. Nothing heavy is
imported here, so server startup stays fast.
"""

from __future__ import annotations

from typing import Any


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Called by jupyter-server when `aiikernel` is an enabled server extension."""
    serverapp.log.info("aiikernel server extension loaded")
