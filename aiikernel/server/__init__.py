"""aiikernel's jupyter-server extension: aimax sessions over REST and websocket.

Routes (design.md section 6): ``/aimax/sessions`` (GET list, POST create),
``/aimax/sessions/{id}`` (GET status, DELETE stop), ``…/messages`` (POST), ``…/history``
(GET), ``…/stream`` (websocket) and ``/aimax/openapi.json``. Modules, one job each:

- :mod:`.app`: the ``ExtensionApp`` (traitlets configuration, lifecycle)
- :mod:`.service`: the policy around the one aimax manager (limits, paths, prompt cap)
- :mod:`.handlers` / :mod:`.websocket`: HTTP verbs and the websocket, thin over the service
- :mod:`.routes`: the URL table (the handlers and the websocket)
- :mod:`.stream`: one websocket client's event pump (history pages, then live; backpressure)
- :mod:`.models` / :mod:`.openapi` / :mod:`.openapi_markdown`: wire models, the OpenAPI
  document generated from them, and its Markdown rendering for docs/rest-api.md
- :mod:`.errors` (the error → HTTP status table), :mod:`.paths` (cwd inside ``root_dir``),
  :mod:`.status_cache` (single-flight state for concurrent list/status calls)

Nothing heavy is imported here, so server startup stays fast.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import AimaxExtension

    return [{"module": "aiikernel.server", "app": AimaxExtension}]
