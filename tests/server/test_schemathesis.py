"""Schemathesis against the served OpenAPI document of a real ``jupyter server`` subprocess:
at least ``AIIK_SCHEMATHESIS_MIN_REQUESTS`` (default 1000) generated requests, zero 5xx.

The server runs the fake agents, so generated creates really start sessions (up to
``max_sessions``) and generated prompts really reach them. Size and time are configurable:
``AIIK_SCHEMATHESIS_EXAMPLES`` (per operation and phase, default 25) and
``AIIK_SCHEMATHESIS_SECONDS`` (default 150).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from .conftest import requires_tmux
from .server_process import ServerProcess

pytestmark = [
    requires_tmux,
    pytest.mark.skipif(shutil.which("schemathesis") is None, reason="schemathesis not installed"),
    pytest.mark.timeout(600),
]

EXAMPLES = int(os.environ.get("AIIK_SCHEMATHESIS_EXAMPLES", "25"))
SECONDS = int(os.environ.get("AIIK_SCHEMATHESIS_SECONDS", "150"))
MIN_REQUESTS = int(os.environ.get("AIIK_SCHEMATHESIS_MIN_REQUESTS", "1000"))


def _header_auth_only(document: dict) -> dict:
    """The served document, authenticated by the header alone, with this server's backends: schemathesis fills the
    ``token`` query scheme with generated strings, a wrong token that jupyter_server reads
    before the header, so no generated create was ever authenticated (403 "_xsrf missing")."""
    document["components"]["securitySchemes"].pop("tokenQuery", None)
    for path in document["paths"].values():
        for operation in path.values():
            if isinstance(operation, dict) and "security" in operation:
                operation["security"] = [s for s in operation["security"] if "tokenQuery" not in s]
    if "security" in document:
        document["security"] = [s for s in document["security"] if "tokenQuery" not in s]
    # `backend` is a name pattern (entry-point backends may be allowed); name this server's
    # backends so generated creates can start the fake agents
    create = document["components"]["schemas"]["CreateSessionRequest"]["properties"]
    create["backend"] = {"type": "string", "enum": ["tmux-claude-code", "tmux-codex"]}
    return document


def test_generated_requests_never_get_a_server_error(tmp_path):
    keep = os.environ.get("AIIK_SCHEMATHESIS_KEEP")  # a directory to keep the HAR and log in
    base = Path(keep) if keep else tmp_path
    har = base / "run.har"
    with ServerProcess(base / "srv", traits={"max_sessions": 3}) as server:
        spec = base / "openapi.json"
        spec.write_text(json.dumps(_header_auth_only(server.request("GET", "/aimax/openapi.json"))))
        run = subprocess.run(
            [
                "schemathesis",
                "run",
                str(spec),
                "--url",
                server.url,
                "--header",
                f"Authorization: token {server.token}",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                str(EXAMPLES),
                "--workers",
                os.environ.get("AIIK_SCHEMATHESIS_WORKERS", "1"),
                "--seed",
                "6",
                "--request-timeout",
                "40",
                "--max-time",
                str(SECONDS),
                "--suppress-health-check",
                "all",
                "--report",
                "har",
                "--report-har-path",
                str(har),
            ],
            capture_output=True,
            text=True,
            timeout=SECONDS + 240,
            check=False,
        )
        log = server.log_tail(20000)
    entries = json.loads(har.read_text())["log"]["entries"]
    statuses = Counter(e["response"]["status"] for e in entries)
    server_errors = [
        (
            e["request"]["method"],
            e["request"]["url"],
            e["request"].get("postData", {}).get("text", "")[:300],
            e["response"]["status"],
            e["response"]["content"].get("text", "")[:500],
        )
        for e in entries
        if e["response"]["status"] >= 500
    ]
    if server_errors:
        pytest.fail(
            f"{len(server_errors)} server errors:\n"
            + json.dumps(server_errors[:4], indent=1, ensure_ascii=False)
            + "\n--- server log ---\n"
            + log[-3000:]
        )
    assert len(entries) >= MIN_REQUESTS, (len(entries), statuses, run.stdout[-2000:])
    assert statuses[201] >= 1 and statuses[202] >= 1, statuses  # sessions really started
    assert run.returncode == 0, run.stdout[-3000:]
    assert "Traceback" not in log, log[-4000:]
