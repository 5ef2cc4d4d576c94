"""The wire log: every model request and response of a session, secrets redacted.

The client opens an :class:`Exchange` per model call (the exact arguments given to
litellm, minus credentials), adds the raw stream chunks as they arrive, and closes
it with the outcome.  Finished exchanges go to the session's :class:`WireLog`: a
bounded in-memory list (``/wire``), optionally appended to a JSONL file
(``AiModels.wire_log_file``, off by default) and to any other sink (MLflow tracing).

Redaction happens once, when an exchange is recorded: the credential actually used, every
secret auth.json stores and every secret-named environment variable's value are replaced
wherever they appear, key-like fields are blanked, :func:`errors.redact`
catches anything else key-shaped, and inline image data is shortened to its size.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field

from .errors import redact

log = logging.getLogger(__name__)

REDACTED = "[REDACTED]"
SECRET_FIELDS = re.compile(
    r"(?i)^(api[_-]?key|authorization|x-api-key|x-goog-api-key|token|access|refresh|password|secret)$"
)
#: Environment variables whose values are secrets wherever they appear in a wire entry.
SECRET_ENV = re.compile(r"(?i)(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|ACCESS_KEY)")
DATA_URL = re.compile(r"^data:([\w/+.\-]+);base64,(.*)$", re.DOTALL)
MAX_CHUNKS = 400


class WireEntry(BaseModel):
    """One model call as it went over the wire (already redacted)."""

    seq: int
    started: float = Field(description="Epoch seconds when the request was sent.")
    duration: float | None = None
    model: str = Field(description="The model as the user named it.")
    request: dict[str, Any] = Field(description="The arguments given to litellm.")
    chunks: list[dict[str, Any]] = Field(default_factory=list, description="The raw stream chunks.")
    chunks_dropped: int = 0
    text: str = ""
    usage: dict[str, Any] | None = None
    status: Literal["ok", "error", "interrupted"] = "ok"
    error: str | None = None


def known_secrets() -> list[str]:
    """Every secret this process could leak into a log: what auth.json stores (keys and
    OAuth tokens) and the values of secret-named environment variables (``*_API_KEY``,
    ``*TOKEN*``, the provider table's variables, settings.json endpoints' ``api_key_env``)."""
    from .auth import stored_secrets
    from .provider_keys import PROVIDER_ENV

    names = {v for group in PROVIDER_ENV.values() for v in group}
    try:
        from .providers import custom_providers

        names |= {p.api_key_env for p in custom_providers().values() if p.api_key_env}
    except Exception:
        pass
    found = [
        value
        for name, value in os.environ.items()
        if value and (name in names or SECRET_ENV.search(name))
    ]
    found += stored_secrets()
    # longest first, so a secret containing another is replaced whole
    return sorted({s for s in found if len(s) >= 8}, key=len, reverse=True)


def scrub(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A deep copy of ``value`` safe to show or store: no secrets, no inline image payloads."""
    secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def clean_text(text: str) -> str:
        match = DATA_URL.match(text)
        if match:
            return f"data:{match.group(1)};base64,<{len(match.group(2)) * 3 // 4} bytes>"
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        return redact(text)

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            return {
                str(k): (REDACTED if SECRET_FIELDS.match(str(k)) and v else walk(v))
                for k, v in item.items()
            }
        if isinstance(item, (list, tuple)):
            return [walk(v) for v in item]
        if isinstance(item, str):
            return clean_text(item)
        if item is None or isinstance(item, (bool, int, float)):
            return item
        return clean_text(repr(item))

    return walk(value)


class Exchange:
    """One request/response in progress; :meth:`finish` hands it to the log."""

    def __init__(self, log_: WireLog, model: str, request: dict[str, Any], secrets: list[str]):
        self._log = log_
        self._secrets = secrets
        self._started = time.time()
        self._t0 = time.perf_counter()
        self.model = model
        self.request = request
        self.chunks: list[Any] = []
        self.dropped = 0
        self.text_parts: list[str] = []
        self.usage: dict[str, Any] | None = None
        self._done = False

    def add_chunk(self, chunk: Any) -> None:
        if len(self.chunks) >= MAX_CHUNKS:
            self.dropped += 1
            return
        self.chunks.append(chunk)

    def add_text(self, text: str) -> None:
        self.text_parts.append(text)

    def finish(
        self,
        status: Literal["ok", "error", "interrupted"] = "ok",
        error: str | None = None,
    ) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._secrets = [*self._secrets, *self._log.secret_source()]
        except Exception:  # scrubbing with what we have beats losing the entry
            log.warning("could not collect the secrets to scrub", exc_info=True)
        chunks = []
        for chunk in self.chunks:
            dump = getattr(chunk, "model_dump", None)
            try:
                chunks.append(dump() if callable(dump) else chunk)
            except Exception:
                chunks.append({"repr": repr(chunk)})
        entry = WireEntry(
            seq=0,
            started=self._started,
            duration=round(time.perf_counter() - self._t0, 4),
            model=self.model,
            request=scrub(self.request, self._secrets),
            chunks=scrub(chunks, self._secrets),
            chunks_dropped=self.dropped,
            text=scrub("".join(self.text_parts), self._secrets),
            usage=self.usage,
            status=status,
            error=scrub(error, self._secrets) if error else None,
        )
        self._log.record(entry)


class WireLog:
    """The session's model traffic: last ``size`` exchanges in memory, plus optional sinks."""

    def __init__(self, size: int = 200, path: str | os.PathLike[str] | None = None) -> None:
        self.entries: deque[WireEntry] = deque(maxlen=max(1, size))
        self.path = os.fspath(path) if path else None
        self.sinks: list[Callable[[WireEntry], None]] = []
        #: Secrets scrubbed from every entry besides the credential the call used.
        self.secret_source: Callable[[], Iterable[str]] = known_secrets
        self._seq = 0
        self._lock = threading.Lock()

    def begin(self, model: str, request: dict[str, Any], secrets: list[str]) -> Exchange:
        return Exchange(self, model, request, secrets)

    def record(self, entry: WireEntry) -> None:
        with self._lock:
            self._seq += 1
            entry.seq = self._seq
            self.entries.append(entry)
        if self.path:
            self._append_to_file(entry)
        for sink in list(self.sinks):
            try:
                sink(entry)
            except Exception:  # a sink must never break a model call
                log.warning("wire log sink %r failed", sink, exc_info=True)

    def _append_to_file(self, entry: WireEntry) -> None:
        assert self.path is not None
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0), 0o600)
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise OSError(errno.EINVAL, "not a regular file")
                if st.st_mode & 0o077:  # a file made before (or by someone else's umask)
                    os.fchmod(fd, 0o600)
            except BaseException:
                os.close(fd)
                raise
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(entry.model_dump_json() + "\n")
        except OSError as exc:
            log.warning("could not append to the wire log file %s: %s", self.path, exc.strerror)

    def last(self, n: int) -> list[WireEntry]:
        with self._lock:
            return list(self.entries)[-n:] if n > 0 else []


def format_entry(entry: WireEntry, limit: int = 4000) -> str:
    """Markdown for one exchange (``/wire``): request and response as JSON, cut at ``limit``."""
    when = time.strftime("%H:%M:%S", time.localtime(entry.started))
    head = f"**#{entry.seq}** `{entry.model}` at {when} — {entry.status}"
    if entry.duration is not None:
        head += f", {entry.duration:.2f} s"
    if entry.usage:
        head += f", {entry.usage.get('prompt_tokens', 0)} in / {entry.usage.get('completion_tokens', 0)} out"
    request = json.dumps(entry.request, indent=1, ensure_ascii=False)
    if len(request) > limit:
        request = request[:limit] + f"\n… [{len(request) - limit} characters cut]"
    response: dict[str, Any] = {"text": entry.text, "chunks": len(entry.chunks)}
    if entry.error:
        response["error"] = entry.error
    body = json.dumps(response, indent=1, ensure_ascii=False)
    if len(body) > limit:
        body = body[:limit] + f"\n… [{len(body) - limit} characters cut]"
    return f"{head}\n\nrequest:\n```json\n{request}\n```\nresponse:\n```json\n{body}\n```"
