"""Where aiipython keeps its files, ``settings.json``, and the model-access configuration.

Two kinds of settings live here, for two audiences:

* ``~/.aiipython/settings.json`` — state the kernel writes for the user (the remembered
  model, recent models) and the ``providers`` section users edit to register
  OpenAI-compatible endpoints by name.  Written atomically, mode 0600 in a 0700 directory.
* :class:`AiModels` — traitlets configuration (``%config AiModels.wire_log_file = …`` or
  ``c.AiModels…`` in a config file) for behaviour that is a deployment choice.

The directory is ``$AIIPYTHON_HOME`` when set, else ``~/.aiipython`` (``$HOME`` respected),
so tests and multi-user setups never touch the real one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

RECENT_LIMIT = 12


def aiipython_home() -> Path:
    """``$AIIPYTHON_HOME`` or ``~/.aiipython`` (``$HOME`` honoured); not created here."""
    override = os.environ.get("AIIPYTHON_HOME", "").strip()
    if override:
        return Path(override).expanduser()
    return Path(os.environ.get("HOME") or Path.home()) / ".aiipython"


def user_home() -> Path:
    """The user's home directory as ``$HOME`` says (where ``~/.codex`` and ``~/.pi`` live)."""
    return Path(os.environ.get("HOME") or Path.home())


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) if needed and tighten it to 0700: it holds credentials."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if (path.stat().st_mode & 0o777) != 0o700:
        os.chmod(path, 0o700)
    return path


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON so readers see the old file or the new one, never half of one.

    The file is created 0600 (mkstemp) in its own directory, fsynced, then renamed over.
    """
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An advisory lock beside ``path`` so two kernels do not interleave read-modify-write."""
    import fcntl

    ensure_private_dir(path.parent)
    lock_path = path.with_name(f".{path.name}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def quarantine(path: Path) -> Path:
    """Move an unreadable file aside (never delete what the user may want back)."""
    target = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, target)
    return target


class SettingsError(Exception):
    """settings.json exists but cannot be used; the message says where and why."""


class ProviderConfig(BaseModel):
    """An OpenAI-compatible endpoint registered by name (Ollama, vLLM, LM Studio, a proxy)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="The API root, e.g. http://127.0.0.1:11434/v1")
    api_key_env: str | None = Field(
        None, description="Environment variable holding the key, when the endpoint needs one."
    )
    vision: bool = Field(False, description="Whether the endpoint's models accept images.")
    models: list[str] = Field(
        default_factory=list, description="Models to list when the endpoint has no /models."
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="Extra JSON fields sent with every request."
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value


class Settings(BaseModel):
    """The contents of settings.json; unknown keys are kept as they are."""

    model_config = ConfigDict(extra="allow")

    last_model: str | None = None
    recent_models: list[str] = Field(default_factory=list)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """Dict-style access, for callers that treat settings as a mapping."""
        return getattr(self, key, default)


def settings_path() -> Path:
    return aiipython_home() / "settings.json"


def _read(path: Path) -> Settings:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise SettingsError(f"{path} cannot be read: {exc.strerror}") from None
    try:
        return Settings.model_validate(json.loads(raw) if raw.strip() else {})
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False)
        )
        raise SettingsError(f"{path} has invalid entries ({where})") from None


def load_settings() -> Settings:
    """The current settings; a broken file is logged and treated as empty (never rewritten)."""
    try:
        return _read(settings_path())
    except SettingsError as exc:
        log.warning("%s; using defaults", exc)
        return Settings()


def settings_problem() -> str | None:
    """Why settings.json is unusable, or None when it is fine (shown by /model)."""
    try:
        _read(settings_path())
    except SettingsError as exc:
        return str(exc)
    return None


def update_settings(change: Callable[[Settings], None]) -> Settings:
    """Read, apply ``change``, write atomically under a lock; a broken file is moved aside first."""
    path = settings_path()
    with file_lock(path):
        try:
            current = _read(path)
        except SettingsError as exc:
            moved = quarantine(path)
            log.warning("%s; moved it to %s and started a fresh one", exc, moved)
            current = Settings()
        change(current)
        atomic_write_json(path, current.model_dump(mode="json", exclude_defaults=False))
        return current


def remember_model(model: str, *, recent: bool = True) -> Settings:
    """Make ``model`` the remembered ``last_model`` and (``recent``) the first recent model.

    ``recent=False`` is for a model that cannot run yet (no key): it is still the
    user's choice, but a model that never worked does not belong in "Recent".
    """

    def change(settings: Settings) -> None:
        settings.last_model = model
        if recent:
            others = [m for m in settings.recent_models if m != model]
            settings.recent_models = [model, *others][:RECENT_LIMIT]

    return update_settings(change)
