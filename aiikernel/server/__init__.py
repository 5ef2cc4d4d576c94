"""aiikernel's jupyter-server extension: aimax sessions over REST and websocket.

Routes (design.md section 6): ``/aimax/sessions`` (GET list, POST create),
``/aimax/sessions/{id}`` (GET status, DELETE stop), ``…/messages`` (POST), ``…/history``
(GET), ``…/stream`` (websocket) and ``/aimax/openapi.json``. Modules, one job each:

- :mod:`.app`: the ``ExtensionApp`` (traitlets configuration, lifecycle)
- :mod:`.service`: the policy around the one aimax manager (limits, paths, prompt cap)
- :mod:`.handlers` / :mod:`.websocket` / :mod:`.stream`: HTTP, websocket, event pump
- :mod:`.models` / :mod:`.openapi`: the wire models and the document generated from them

Nothing heavy is imported here, so server startup stays fast.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import AimaxExtension

    return [{"module": "aiikernel.server", "app": AimaxExtension}]
