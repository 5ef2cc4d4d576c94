"""@-mentions: what a panel attaches to a prompt, turned into text the model reads.

``@name`` names a variable: the kernel describes it (type, shape, columns, a short value
and, for tables and arrays, their first rows).  ``@cell``, ``@notebook`` and ``@file:path``
are read by the panel (it has the notebook and the server's files) and arrive as text.
Each attachment becomes one text part after the prompt, headed by its label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..turn.context import _type_name, describe, visible_names

#: Characters of a variable's preview (``head()``, or its repr).
PREVIEW_LIMIT = 3000


def _preview(obj: Any) -> str:
    head = getattr(obj, "head", None)
    try:
        if callable(head) and hasattr(obj, "shape"):
            text = str(head(10))
        else:
            import reprlib

            r = reprlib.Repr()
            r.maxstring, r.maxother, r.maxlist, r.maxdict, r.maxlevel = 2000, 2000, 30, 30, 3
            text = r.repr(obj)
    except Exception as exc:
        return f"<preview failed: {type(exc).__name__}>"
    if len(text) > PREVIEW_LIMIT:
        text = text[:PREVIEW_LIMIT] + "\n…"
    return text


def variable_summary(namespace: Mapping[str, Any], name: str) -> str:
    """``name`` described for the model, or a line saying it does not exist."""
    if name not in namespace:
        return f"`{name}` is not defined in the namespace."
    obj = namespace[name]
    lines = [describe(name, obj).removeprefix("- ")]
    preview = _preview(obj)
    if preview:
        lines.append("```\n" + preview + "\n```")
    return "\n".join(lines)


def image_part(
    namespace: dict[str, Any], label: str, data: str, max_bytes: int
) -> tuple[dict[str, Any], str]:
    """A pasted image kept in ``images`` (as ``/image`` keeps files) and its content part;
    an image that cannot be used becomes a note the model reads and a label saying why."""
    import base64
    import binascii

    from ..lm.images import ImageError, image_from_bytes, store_image

    try:
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ImageError(f"{label}: the pasted data is not valid base64") from None
        image = image_from_bytes(label, raw, max_bytes=max_bytes)
        key = store_image(namespace, image)
    except ImageError as exc:
        note = f"The user attached an image that could not be used: {exc}"
        return {"type": "text", "text": note}, f"{label} (not attached: {exc})"
    return image.content_part(), f"images[{key!r}]"


def attachment_parts(
    namespace: dict[str, Any], attachments: list[Any], *, max_image_bytes: int = 20 * 1024 * 1024
) -> tuple[list[dict[str, Any]], list[str]]:
    """Content parts (OpenAI format) for ``attachments`` and their labels."""
    parts: list[dict[str, Any]] = []
    labels: list[str] = []
    for item in attachments:
        if item.kind == "image":
            part, label = image_part(namespace, item.label, item.data, max_image_bytes)
            parts.append(part)
            labels.append(label)
            continue
        if item.kind == "variable":
            label = f"@{item.name}"
            body = variable_summary(namespace, item.name)
        else:
            label = item.label
            body = item.text
        labels.append(label)
        parts.append({"type": "text", "text": f"Attached {label}:\n{body}"})
    return parts, labels


def user_names(namespace: Mapping[str, Any], hidden: set[str], limit: int = 500) -> list[Any]:
    """The user's variables with their type names, newest last (for ``@`` completion)."""
    from .protocol import NameInfo

    items = dict(list(namespace.items()))
    names = visible_names(items, hidden)[-limit:]
    return [NameInfo(name=name, type=_type_name(items[name])) for name in names]
