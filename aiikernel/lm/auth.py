"""The credential store: ``~/.aiipython/auth.json`` (0600, directory 0700).

Per provider it may hold an OAuth token and an API key; :func:`lookup_credential`
returns the OAuth token when it is present and not expired, else the stored key,
else None (``credentials.resolve_credential`` then tries the environment).  That
order means a subscription is used before a billed key.

On first use, compatible logins are imported — read-only — from Codex
(``~/.codex/auth.json``) and Pi (``~/.pi/agent/auth.json``).  Each source's
modification time is recorded: it is read again only after it changed (a new sign-in
there), so a ``/logout`` here is not undone by the same old file.  An import never
replaces what ``/login`` stored, only earlier imports from the same source.

Secrets are :class:`pydantic.SecretStr`: their repr and str are masked, and
validation errors are reported without the input values.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .provider_keys import PROVIDER_ENV, Credential
from .settings import aiipython_home, atomic_write_json, file_lock, user_home

log = logging.getLogger(__name__)

PROVIDER_NAME = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")

#: Pi calls some providers differently.
PI_PROVIDER_NAMES = {"google": "gemini"}
#: OAuth tokens we can actually use through litellm.
USABLE_OAUTH = frozenset({"anthropic", "openai-codex"})


class AuthFileError(Exception):
    """auth.json exists but cannot be used; the message never contains a secret."""


class OAuthToken(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access: SecretStr
    refresh: SecretStr | None = None
    #: Expiry in epoch milliseconds (Pi's convention); None = unknown.
    expires: int | None = None

    def expired(self, now: float | None = None) -> bool:
        return self.expires is not None and self.expires / 1000 <= (now or time.time())


class ProviderAuth(BaseModel):
    model_config = ConfigDict(extra="ignore")

    api_key: SecretStr | None = None
    oauth: OAuthToken | None = None
    #: Where each secret came from (``codex``, ``pi``); None when stored by /login.
    api_key_from: str | None = None
    oauth_from: str | None = None


class AuthFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int = 1
    providers: dict[str, ProviderAuth] = Field(default_factory=dict)
    #: External sources imported, with the file's mtime (ns) at the time.
    imported: dict[str, int] = Field(default_factory=dict)

    @field_validator("imported", mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        return dict.fromkeys(value, 0) if isinstance(value, list) else value


#: A key's type prefix (``sk-``, ``hf_``, ``xai-``, Google's ``AIza``): it tells which
#: kind of key is in use and carries none of the secret.
_KEY_PREFIX = re.compile(r"^(?:AIza|[a-z]{2,3}[-_])")


def mask(secret: str | None) -> str:
    """A key as its type prefix and last 4 characters (``sk-…abcd``); short keys show no tail."""
    if not secret:
        return "—"
    match = _KEY_PREFIX.match(secret)
    prefix = match.group(0) if match else ""
    rest = secret[len(prefix) :]
    return prefix + "…" + (rest[-4:] if len(rest) > 8 else "")


def _dump(data: AuthFile) -> dict[str, Any]:
    """The file form, secrets in clear (this goes only into the 0600 file)."""
    providers: dict[str, Any] = {}
    for name, entry in sorted(data.providers.items()):
        item: dict[str, Any] = {}
        if entry.api_key is not None:
            item["api_key"] = entry.api_key.get_secret_value()
        if entry.oauth is not None:
            item["oauth"] = {
                "access": entry.oauth.access.get_secret_value(),
                "refresh": entry.oauth.refresh.get_secret_value() if entry.oauth.refresh else None,
                "expires": entry.oauth.expires,
            }
        if entry.api_key is not None and entry.api_key_from:
            item["api_key_from"] = entry.api_key_from
        if entry.oauth is not None and entry.oauth_from:
            item["oauth_from"] = entry.oauth_from
        if item:
            providers[name] = item
    return {"version": data.version, "providers": providers, "imported": dict(data.imported)}


def _describe_validation(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False)
    )


def _read_json(path: Path) -> Any:
    raw = path.read_text(encoding="utf-8")
    try:
        return json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise AuthFileError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def _jwt_expiry_ms(token: str) -> int | None:
    """The ``exp`` claim of a JWT in epoch ms, without verifying it (only to skip stale ones)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return int(claims["exp"]) * 1000
    except Exception:
        return None


def read_codex_auth(path: Path) -> dict[str, ProviderAuth]:
    """Compatible entries of a Codex ``auth.json``: its API key, its ChatGPT OAuth token."""
    data = _read_json(path)
    if not isinstance(data, dict):
        return {}
    found: dict[str, ProviderAuth] = {}
    key = data.get("OPENAI_API_KEY")
    if isinstance(key, str) and key.strip():
        found["openai"] = ProviderAuth(api_key=SecretStr(key.strip()), api_key_from="codex")
    tokens = data.get("tokens")
    if isinstance(tokens, dict) and isinstance(tokens.get("access_token"), str):
        access = tokens["access_token"]
        found["openai-codex"] = ProviderAuth(
            oauth=OAuthToken(
                access=SecretStr(access),
                refresh=SecretStr(tokens["refresh_token"])
                if isinstance(tokens.get("refresh_token"), str)
                else None,
                expires=_jwt_expiry_ms(access),
            ),
            oauth_from="codex",
        )
    return found


def read_pi_auth(path: Path) -> dict[str, ProviderAuth]:
    """Compatible entries of a Pi ``auth.json`` (``{provider: {type: api_key|oauth, …}}``)."""
    data = _read_json(path)
    if not isinstance(data, dict):
        return {}
    found: dict[str, ProviderAuth] = {}
    for raw_name, entry in data.items():
        name = PI_PROVIDER_NAMES.get(str(raw_name), str(raw_name))
        if not PROVIDER_NAME.fullmatch(name):
            continue
        if isinstance(entry, str) and entry.strip():  # older Pi: {"openai": "sk-…"}
            found[name] = ProviderAuth(api_key=SecretStr(entry.strip()), api_key_from="pi")
        elif isinstance(entry, dict):
            kind = entry.get("type")
            if kind == "api_key" and isinstance(entry.get("key"), str):
                found[name] = ProviderAuth(api_key=SecretStr(entry["key"]), api_key_from="pi")
            elif kind == "oauth" and name in USABLE_OAUTH and isinstance(entry.get("access"), str):
                expires = entry.get("expires")
                found[name] = ProviderAuth(
                    oauth=OAuthToken(
                        access=SecretStr(entry["access"]),
                        refresh=SecretStr(entry["refresh"])
                        if isinstance(entry.get("refresh"), str)
                        else None,
                        expires=int(expires) if isinstance(expires, (int, float)) else None,
                    ),
                    oauth_from="pi",
                )
    return found


def external_sources() -> dict[str, tuple[Path, Any]]:
    """The credential files of other tools we import from, by short name."""
    home = user_home()
    return {
        "codex": (home / ".codex" / "auth.json", read_codex_auth),
        "pi": (home / ".pi" / "agent" / "auth.json", read_pi_auth),
    }


class AuthStore:
    """Reads and writes auth.json; every call re-reads the file (other kernels may write it)."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home or aiipython_home()

    @property
    def path(self) -> Path:
        return self.home / "auth.json"

    def __repr__(self) -> str:
        return f"AuthStore({str(self.path)!r})"

    # -- reading ---------------------------------------------------------------

    def _load_file(self) -> AuthFile:
        if not self.path.exists():
            return AuthFile()
        self._tighten()
        try:
            return AuthFile.model_validate(_read_json(self.path))
        except ValidationError as exc:
            raise AuthFileError(
                f"{self.path} has invalid entries ({_describe_validation(exc)})"
            ) from None
        except OSError as exc:
            raise AuthFileError(f"{self.path} cannot be read: {exc.strerror}") from None

    def _tighten(self) -> None:
        """auth.json readable by others (copied, restored from a backup) is made 0600 again."""
        try:
            mode = self.path.stat().st_mode & 0o777
            if mode & 0o077:
                os.chmod(self.path, 0o600)
                log.warning("%s was readable by others (mode %o); it is now 0600", self.path, mode)
        except OSError:
            pass

    def load(self) -> AuthFile:
        """The stored credentials, importing Codex/Pi logins that are new or changed."""
        data = self._load_file()
        pending = [
            name
            for name, (path, _) in external_sources().items()
            if path.is_file() and data.imported.get(name) != _mtime(path)
        ]
        if pending:
            data = self._import(pending)
        return data

    def _import(self, names: list[str]) -> AuthFile:
        with file_lock(self.path):
            data = self._load_file()
            for name in names:
                path, reader = external_sources()[name]
                if not path.is_file() or data.imported.get(name) == _mtime(path):
                    continue
                try:
                    entries = reader(path)
                except (AuthFileError, OSError) as exc:
                    log.warning("could not import credentials from %s: %s", path, exc)
                    data.imported[name] = _mtime(path)  # say it once, not at every request
                    continue
                for provider, entry in entries.items():
                    current = data.providers.setdefault(provider, ProviderAuth())
                    # never overwrite what /login stored; refresh what this source gave before
                    if entry.api_key is not None and (
                        current.api_key is None or current.api_key_from == name
                    ):
                        current.api_key, current.api_key_from = entry.api_key, name
                    if entry.oauth is not None and (
                        current.oauth is None or current.oauth_from == name
                    ):
                        current.oauth, current.oauth_from = entry.oauth, name
                data.imported[name] = _mtime(path)
                log.info("imported %d credential(s) from %s", len(entries), path)
            atomic_write_json(self.path, _dump(data))
            return data

    def lookup(self, provider: str) -> Credential | None:
        """OAuth token (unexpired) > stored API key > None."""
        entry = self.load().providers.get(provider)
        if entry is None:
            return None
        if entry.oauth is not None and not entry.oauth.expired():
            return Credential(provider, entry.oauth.access.get_secret_value(), "oauth")
        if entry.api_key is not None:
            return Credential(provider, entry.api_key.get_secret_value(), "auth.json")
        return None

    # -- writing ---------------------------------------------------------------

    def _change(self, change: Any) -> AuthFile:
        with file_lock(self.path):
            data = self._load_file()
            change(data)
            atomic_write_json(self.path, _dump(data))
            return data

    def set_api_key(self, provider: str, key: str) -> None:
        """Store ``key`` as ``provider``'s API key (replacing an earlier one)."""
        check_provider_name(provider)

        def change(data: AuthFile) -> None:
            entry = data.providers.setdefault(provider, ProviderAuth())
            entry.api_key, entry.api_key_from = SecretStr(key), None

        self.load()  # import first, so a later import cannot shadow this key
        self._change(change)

    def set_oauth(self, provider: str, token: OAuthToken) -> None:
        """Store an OAuth token for ``provider`` (used by imports and by tests)."""
        check_provider_name(provider)

        def change(data: AuthFile) -> None:
            entry = data.providers.setdefault(provider, ProviderAuth())
            entry.oauth, entry.oauth_from = token, None

        self._change(change)

    def remove(self, provider: str) -> list[str]:
        """Forget every stored credential of ``provider``; returns what was removed."""
        removed: list[str] = []

        def change(data: AuthFile) -> None:
            entry = data.providers.pop(provider, None)
            if entry is not None:
                if entry.oauth is not None:
                    removed.append("OAuth token")
                if entry.api_key is not None:
                    removed.append("API key")

        self.load()
        self._change(change)
        return removed


def check_provider_name(provider: str) -> str:
    """``provider`` if it has the shape of a provider name; the error never quotes it
    (a key typed in the wrong place must not be echoed)."""
    if not PROVIDER_NAME.fullmatch(provider):
        raise ValueError("that is not a provider name (lowercase letters, digits, '-', '_', '.')")
    return provider


#: An unlisted provider name must read like a word (``fireworks_ai``, ``text-completion-x``):
#: short, few digits. Random tokens (keys) fail this.
_WORDLIKE = re.compile(r"[a-z]+(?:[_.\-][a-z0-9]+)*[0-9]{0,3}")


def listed_providers(extra: Any = ()) -> set[str]:
    """Provider names we know of: the env table, keyless and OAuth ones, settings.json's
    endpoints, what auth.json holds, and litellm's list when litellm is already imported."""
    import sys

    from .provider_keys import KEYLESS_PROVIDERS

    names = set(PROVIDER_ENV) | set(KEYLESS_PROVIDERS) | set(USABLE_OAUTH) | set(extra)
    try:
        from .providers import custom_providers

        names |= set(custom_providers())
    except Exception:  # a damaged settings.json is reported elsewhere
        pass
    litellm = sys.modules.get("litellm")
    for item in getattr(litellm, "provider_list", None) or ():
        names.add(str(getattr(item, "value", item)))
    return names


def plausible_provider(provider: str, known: set[str]) -> bool:
    """A listed provider, or a short word-like name (never something shaped like a key)."""
    if provider in known:
        return True
    digits = sum(c.isdigit() for c in provider)
    return len(provider) <= 32 and digits <= 3 and bool(_WORDLIKE.fullmatch(provider))


def stored_secrets(home: Path | None = None) -> list[str]:
    """Every secret auth.json holds (for scrubbing logs); never imports, never writes."""
    try:
        data = AuthStore(home)._load_file()
    except Exception:
        return []
    found: list[str] = []
    for entry in data.providers.values():
        if entry.api_key is not None:
            found.append(entry.api_key.get_secret_value())
        if entry.oauth is not None:
            found.append(entry.oauth.access.get_secret_value())
            if entry.oauth.refresh is not None:
                found.append(entry.oauth.refresh.get_secret_value())
    return [s for s in found if s]


def lookup_credential(provider: str) -> Credential | None:
    """Hook for :func:`aiikernel.lm.credentials.resolve_credential`: stored OAuth > stored key."""
    try:
        return AuthStore().lookup(provider)
    except AuthFileError as exc:
        log.warning("%s; ignoring stored credentials", exc)
        return None


def known_providers() -> list[str]:
    """Providers worth listing in /auth even when nothing is configured for them."""
    return ["anthropic", "openai", "gemini"] + sorted(
        p for p in PROVIDER_ENV if p not in ("anthropic", "openai", "gemini")
    )
