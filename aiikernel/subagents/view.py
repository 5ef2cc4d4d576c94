"""A sub-agent's turn, shown live in the output of the cell that started it.

One labelled, collapsible block per turn (``<details>``): the child's reply as it streams, its
code, and what the code printed or displayed. The block is a display with a display id,
published with the parent header of the cell that asked, so JupyterLab keeps updating it
after that cell finished (and the chat panel's copy of the cell's outputs follows it).
Everything shown comes from a model and is escaped; only PNG/JPEG images pass, as validated
base64.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import threading
import time
import uuid
from typing import Any

_STATUS_COLOR = {
    "running": "var(--jp-brand-color1, #1976d2)",
    "answered": "var(--jp-success-color1, #388e3c)",
    "failed": "var(--jp-error-color1, #d32f2f)",
    "crashed": "var(--jp-error-color1, #d32f2f)",
    "interrupted": "var(--jp-warn-color1, #f57c00)",
}
_MAX_CHARS = 200_000
#: Runnable fences (also one still streaming) are cut from the reply text: the block shows
#: each one as its code part, where it ran.
_RUNNABLE_FENCE = re.compile(r"```(?:py|python)[ \t]*\n.*?(?:\n```|$)", re.DOTALL)


def current_parent(shell: Any) -> dict[str, Any] | None:
    """The header of the request running now on the kernel's main shell (None outside one)."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None or getattr(kernel, "session", None) is None:
        return None
    try:
        parent = kernel.get_parent("shell")
    except Exception:
        return None
    return parent or None


class TurnView:
    """Collects one child turn's events and outputs and republishes its block, throttled."""

    def __init__(
        self,
        shell: Any,
        parent: dict[str, Any] | None,
        label: str,
        prompt: str,
        interval: float = 0.15,
    ) -> None:
        self.kernel = getattr(shell, "kernel", None)
        self.parent = parent
        self.label = label
        self.prompt = prompt
        self.interval = interval
        self.display_id = f"aiikernel-agent-{uuid.uuid4().hex}"
        self.status = "running"
        self.detail = "starting"
        self.parts: list[tuple[str, str]] = []
        self._chars = 0
        self._shown = False
        self._last = 0.0
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.kernel is not None and self.parent is not None

    # -- what happened -------------------------------------------------------------------

    def note(self, text: str) -> None:
        self._add("note", text)
        self.refresh()

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind == "turn_started":
            self.detail = str(event.get("model", ""))
        elif kind == "step_started":
            self.detail = f"step {event.get('step')}"
            self._add("text", "")
        elif kind == "text_delta":
            self._append_text(str(event.get("text", "")))
        elif kind == "code_started":
            self._add("code", str(event.get("code", "")))
        elif kind == "code_finished" and event.get("error"):
            self._add("error", str(event["error"]))
        elif kind == "notice":
            self._add("note", str(event.get("message", "")))
        elif kind == "error":
            self._add("error", f"{event.get('category')}: {event.get('message')}")
        self.refresh()

    def output(self, msg: dict[str, Any]) -> None:
        """An IOPub output of the child's code."""
        kind = msg.get("msg_type")
        content = msg.get("content", {})
        if kind == "stream":
            self._add("out", str(content.get("text", "")), merge=True)
        elif kind in ("display_data", "execute_result", "update_display_data"):
            data = content.get("data", {})
            image = _image(data)
            if image:
                self._add("img", image)
            elif "text/plain" in data:
                self._add("out", str(data["text/plain"]) + "\n", merge=True)
        elif kind == "error":
            self._add("error", f"{content.get('ename')}: {content.get('evalue')}")
        self.refresh()

    def finish(self, status: str, detail: str = "") -> None:
        self.status = status
        self.detail = "" if detail == status else detail  # "interrupted · interrupted" says nothing
        self.refresh(force=True)

    # -- parts ---------------------------------------------------------------------------

    def _add(self, kind: str, text: str, merge: bool = False) -> None:
        with self._lock:
            if self._chars > _MAX_CHARS:
                return
            self._chars += len(text)
            if merge and self.parts and self.parts[-1][0] == kind:
                self.parts[-1] = (kind, self.parts[-1][1] + text)
            else:
                self.parts.append((kind, text))

    def _append_text(self, text: str) -> None:
        with self._lock:
            self._chars += len(text)
            if self.parts and self.parts[-1][0] == "text":
                self.parts[-1] = ("text", self.parts[-1][1] + text)
            else:
                self.parts.append(("text", text))

    # -- publishing ----------------------------------------------------------------------

    def refresh(self, force: bool = False) -> None:
        if not self.enabled:
            return
        with self._lock:
            now = time.monotonic()
            due = self._last + self.interval - now
            if not force and self._shown and due > 0:
                if self._timer is None:
                    self._timer = threading.Timer(due, self._timed)
                    self._timer.daemon = True
                    self._timer.start()
                return
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._last = now
            update, self._shown = self._shown, True
            bundle = self.bundle()
        self._send(bundle, update)

    def _timed(self) -> None:
        with self._lock:
            self._timer = None
        self.refresh(force=True)

    def _send(self, bundle: dict[str, str], update: bool) -> None:
        from ipykernel.jsonutil import json_clean

        kernel = self.kernel
        msg_type = "update_display_data" if update else "display_data"
        content = {"data": bundle, "metadata": {}, "transient": {"display_id": self.display_id}}
        try:
            kernel.session.send(
                kernel.iopub_socket,
                msg_type,
                json_clean(content),
                parent=self.parent,
                ident=b"display_data",
            )
        except Exception:  # the block is a convenience; the proxy has everything
            pass

    def bundle(self) -> dict[str, str]:
        """The block as HTML (escaped) and plain text."""
        heading = [self.label, self.status, *([self.detail] if self.detail else [])]
        title = " · ".join(heading)
        prompt = " ".join(self.prompt.split())
        short = prompt if len(prompt) <= 90 else prompt[:89] + "…"
        color = _STATUS_COLOR.get(self.status, "var(--jp-border-color1, #999)")
        body, plain = [], [f"[{title}] {short}"]
        for kind, text in self.parts:
            if not text.strip() and kind != "img":
                continue
            if kind == "img":
                body.append(f'<img src="{text}" style="max-width:100%"/>')
                plain.append("[image]")
                continue
            if kind == "text":
                text = _RUNNABLE_FENCE.sub("", text)
                if not text.strip():
                    continue
            escaped = html.escape(text.strip("\n"))
            style = {
                "text": "white-space:pre-wrap;margin:4px 0",
                "code": "background:var(--jp-cell-editor-background,#f5f5f5);padding:4px;margin:4px 0",
                "out": "margin:2px 0;opacity:.9",
                "error": "color:var(--jp-error-color1,#d32f2f);margin:2px 0",
                "note": "font-style:italic;opacity:.8;margin:2px 0",
            }[kind]
            tag = "div" if kind in ("text", "note") else "pre"
            body.append(f'<{tag} style="{style}">{escaped}</{tag}>')
            plain.append(text.strip("\n"))
        markup = (
            f'<details open class="aiikernel-agent" style="border-left:3px solid {color};'
            f'padding-left:8px;margin:4px 0"><summary style="cursor:pointer">'
            f"<b>{html.escape(heading[0])}</b> · {' · '.join(html.escape(h) for h in heading[1:])} — "
            f"<i>{html.escape(short)}</i></summary>{''.join(body)}</details>"
        )
        return {"text/html": markup, "text/plain": "\n".join(plain)}


def _image(data: dict[str, Any]) -> str | None:
    for mime in ("image/png", "image/jpeg"):
        value = data.get(mime)
        if isinstance(value, str):
            try:
                base64.b64decode(value.replace("\n", ""), validate=True)
            except (binascii.Error, ValueError):
                return None
            return f"data:{mime};base64,{value.replace(chr(10), '')}"
    return None
