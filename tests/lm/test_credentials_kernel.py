"""/login, /auth, /logout through a real kernel, and the key never leaking into any channel."""

from __future__ import annotations

import json
import secrets
import sqlite3
import stat

from tests.support.gateways import BOTH_BACKENDS
from tests.support.model_steps import Fault, Reply

pytestmark = BOTH_BACKENDS  # every test runs against in-kernel litellm and the gateway


def _hidden(key: str) -> str:
    """Python code that rebuilds ``key`` without the key appearing in the code itself."""
    return f"{key[::-1]!r}[::-1]"


def test_keys_are_used_and_never_leak(lm_kernel, model_server):
    k = lm_kernel
    typed_key = "sk-proj-" + secrets.token_hex(16)  # key-shaped: the generic redactor knows it
    prompted_key = "zz" + secrets.token_hex(14)  # not key-shaped: only exact scrubbing catches it
    wire_file = k.home / "wire.jsonl"
    k.ok(f"%config AiModels.wire_log_file = {str(wire_file)!r}")

    # 1. a key typed into the cell is stored, shown only as its last 4 characters, and used
    login = k.ok(f"%ai /login openai {typed_key}")
    assert "…" + typed_key[-4:] in login.all_text()
    assert typed_key not in login.all_text()
    model_server.script(Reply("hello from the model"))
    turn = k.ok("%%ai\nsay hello")
    assert "hello from the model" in turn.all_text()
    assert model_server.model_requests()[-1].headers["authorization"] == f"Bearer {typed_key}"

    # the cell's history entry, In[] and _i* no longer contain it
    check = k.ok(
        f"_k = {_hidden(typed_key)}\n"
        "print(sum(_k in str(v) for v in In), "
        "sum(_k in str(v) for n, v in dict(globals()).items() if n.startswith('_i')))\n"
        "del _k"
    )
    assert check.stream_text().split() == ["0", "0"]
    assert "<hidden key sk-…" + typed_key[-4:] + ">" in k.ok("print(In)").stream_text()

    # 2. /login PROVIDER asks with a password prompt: the key is never in the cell at all
    prompted = k.ok("%ai /login openai", stdin_answer=prompted_key)
    assert "…" + prompted_key[-4:] in prompted.all_text()

    # 3. a provider that echoes the key in its error: the cell shows it redacted
    model_server.script(Fault(401, f"Incorrect API key provided: {prompted_key}. Check it."))
    failed = k.ok("%%ai\nthis will fail")
    assert "Incorrect API key provided" in failed.all_text()
    assert "[REDACTED]" in failed.all_text()
    assert model_server.model_requests()[-1].headers["authorization"] == f"Bearer {prompted_key}"

    # 4. /auth and /wire show nothing but last-4 masks
    auth = k.ok("%ai /auth")
    assert "auth.json" in auth.all_text() and "…" + prompted_key[-4:] in auth.all_text()
    wire = k.ok("%ai /wire 5")
    assert "hello from the model" in wire.all_text()
    assert "Incorrect API key" in wire.all_text()

    # 5. an exception raised by a command mentions no key either
    k.ok("%ai /logout openai")
    k.stop()

    for key in (typed_key, prompted_key):
        # iopub: everything a frontend received (execute_input echoes what the user typed
        # into the cell; the prompted key never appears even there)
        assert key not in k.iopub_text(skip_execute_input=True)
        assert key not in json.dumps([r["content"] for r in k.shell_replies], default=str)
        assert key not in k.stdout_path.read_text(errors="replace")
        assert key not in k.stderr_path.read_text(errors="replace")
        assert key not in wire_file.read_text()
        history = k.ipython_dir / "profile_default" / "history.sqlite"
        with sqlite3.connect(history) as db:
            rows = db.execute("SELECT source, source_raw FROM history").fetchall()
        assert rows, "the history database should have recorded the cells"
        assert not [r for r in rows if key in r[0] or key in r[1]]
    assert prompted_key not in k.iopub_text()
    assert wire_file.exists() and stat.S_IMODE(wire_file.stat().st_mode) == 0o600
    auth_file = k.aiipython_home / "auth.json"
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(k.aiipython_home.stat().st_mode) == 0o700
    assert "openai" not in json.loads(auth_file.read_text())["providers"]  # /logout


def test_priority_oauth_then_stored_key_then_environment(model_server, tmp_path, lm_backend):
    from tests.lm.helpers import start_lm_kernel

    home = tmp_path / "home"
    aii = home / ".aiipython"
    aii.mkdir(parents=True, mode=0o700)
    (aii / "auth.json").write_text(
        json.dumps(
            {
                "version": 1,
                "providers": {
                    "openai": {
                        "oauth": {"access": "oauth-access-token-1234", "expires": None},
                        "api_key": "sk-stored-key-5678",
                    }
                },
                "imported": ["codex", "pi"],
            }
        )
    )
    k = start_lm_kernel(
        tmp_path, model_server, home=home, OPENAI_API_KEY="sk-env-key-9012", **lm_backend
    )
    try:
        model_server.script(Reply("one"), Reply("two"), Reply("three"))
        auth = k.ok("%ai /auth").all_text()
        assert "| openai | oauth | …1234 |" in auth
        assert "auth.json sk-…5678" in auth and "env:OPENAI_API_KEY sk-…9012" in auth
        k.ok("%%ai\nfirst")
        assert model_server.model_requests()[-1].headers["authorization"].endswith("1234")

        data = json.loads((aii / "auth.json").read_text())
        del data["providers"]["openai"]["oauth"]
        (aii / "auth.json").write_text(json.dumps(data))
        k.ok("%%ai\nsecond")
        assert model_server.model_requests()[-1].headers["authorization"].endswith("5678")

        logout = k.ok("%ai /logout openai").all_text()
        assert "OPENAI_API_KEY is still set" in logout
        k.ok("%%ai\nthird")
        assert model_server.model_requests()[-1].headers["authorization"].endswith("9012")
        assert "| openai | env:OPENAI_API_KEY | sk-…9012 |" in k.ok("%ai /auth").all_text()
    finally:
        k.stop()


def test_login_mistakes_are_explained(lm_kernel):
    k = lm_kernel
    usage = k.ok("%ai /login").all_text()
    assert "/login PROVIDER KEY" in usage and "0600" in usage
    bad = k.ok("%ai /login Open!AI sk-whatever-123456").all_text()
    assert "not a provider name" in bad and "sk-whatever-123456" not in bad
    masked = k.ok("%ai /login openai <hidden key …abcd>").all_text()
    assert "expected a provider and at most one key" in masked
    nothing = k.ok("%ai /logout anthropic").all_text()
    assert "Nothing was stored" in nothing

    # a damaged auth.json is reported, never quoted, and left as it was
    broken = '{"providers": {"openai": {"api_key": "sk-half-written-4321"'
    k.aiipython_home.mkdir(mode=0o700, exist_ok=True)
    (k.aiipython_home / "auth.json").write_text(broken)
    refused = k.ok("%ai /login openai sk-new-key-0123456789").all_text()
    assert "is not valid JSON" in refused and "fix or move it" in refused
    assert "sk-half-written" not in refused and "sk-new-key" not in refused
    assert (k.aiipython_home / "auth.json").read_text() == broken
