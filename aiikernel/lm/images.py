"""Images for vision models: loading files for ``/image``, and keeping them from models without eyes.

An image travels as an OpenAI-style content part (``{"type": "image_url",
"image_url": {"url": "data:image/png;base64,…"}}``), which litellm translates for
Anthropic, Gemini and the rest.  The file type is read from its first bytes, not
its name, so a renamed text file is refused with a clear message.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Magic numbers of the formats every vision API accepts.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)

#: MIME types of displayed outputs that can be sent back to a vision model.
DISPLAY_IMAGE_TYPES = ("image/png", "image/jpeg")


class ImageError(ValueError):
    """An image could not be used; the message says which file and why."""


def sniff_mime(head: bytes) -> str | None:
    """The image MIME type from a file's first bytes, or None when it is not one we accept."""
    for magic, mime in SIGNATURES:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class ImageData:
    """An image loaded into the namespace (``images["cat.png"]``); displays itself in a notebook."""

    name: str
    path: str
    mime: str
    data: bytes

    @property
    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def content_part(self) -> dict[str, Any]:
        """The OpenAI/litellm content part that carries this image."""
        return {"type": "image_url", "image_url": {"url": self.data_url}}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self)}
        if self.mime in ("image/png", "image/jpeg", "image/gif"):
            bundle[self.mime] = base64.b64encode(self.data).decode("ascii")
        return bundle

    def __repr__(self) -> str:
        return f"<image {self.name!r} {self.mime}, {len(self.data):,} bytes>"


def load_image(path_text: str, *, max_bytes: int, cwd: str | None = None) -> ImageData:
    """Read an image file, checking that it exists, is readable, is an image and is not huge."""
    if not path_text.strip():
        raise ImageError("give the path of an image file")
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        path = Path(cwd or os.getcwd()) / path
    if not path.exists():
        raise ImageError(f"{path_text}: no such file")
    if path.is_dir():
        raise ImageError(f"{path_text}: is a directory, not an image file")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageError(
                f"{path_text}: {size:,} bytes is larger than the {max_bytes:,}-byte limit "
                "(AiModels.max_image_bytes)"
            )
        data = path.read_bytes()
    except PermissionError:
        raise ImageError(f"{path_text}: permission denied (the file is not readable)") from None
    except OSError as exc:
        raise ImageError(f"{path_text}: cannot be read ({exc.strerror})") from None
    return image_from_bytes(path.name, data, max_bytes=max_bytes, path=str(path), shown=path_text)


def image_from_bytes(
    name: str, data: bytes, *, max_bytes: int, path: str = "", shown: str | None = None
) -> ImageData:
    """An image from its bytes (a file's, or pasted into the chat panel), checked like a file."""
    shown = shown or name
    if not data:
        raise ImageError(f"{shown}: the file is empty")
    if len(data) > max_bytes:
        raise ImageError(
            f"{shown}: {len(data):,} bytes is larger than the {max_bytes:,}-byte limit "
            "(AiModels.max_image_bytes)"
        )
    mime = sniff_mime(data[:16])
    if mime is None:
        raise ImageError(f"{shown}: not an image (PNG, JPEG, GIF or WebP expected)")
    return ImageData(name=name, path=path, mime=mime, data=data)


def _same_image(kept: Any, image: ImageData) -> bool:
    """A re-loaded file (same path) or the same pasted bytes replace their entry."""
    return kept == image or bool(image.path) and getattr(kept, "path", None) == image.path


def store_image(namespace: dict[str, Any], image: ImageData) -> str:
    """Keep ``image`` in the namespace's ``images`` dict; its key (``name (2)`` on a clash)."""
    images = namespace.setdefault("images", {})
    if not isinstance(images, dict):
        raise ImageError(
            f"`images` in your namespace is a {type(images).__name__}, not a dict; "
            "rename or delete it and try again"
        )
    key = image.name
    suffix = 2
    while key in images and not _same_image(images[key], image):
        key = f"{image.name} ({suffix})"
        suffix += 1
    images[key] = image
    return key


def has_images(messages: list[dict[str, Any]]) -> bool:
    return any(
        isinstance(m.get("content"), list)
        and any(isinstance(p, dict) and p.get("type") == "image_url" for p in m["content"])
        for m in messages
    )


def adapt_images_for(model: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` as ``model`` can take them: image parts become a short note for non-vision models.

    The conversation itself is not changed, so switching back to a vision model sends
    the images again.
    """
    if not has_images(messages):
        return messages
    from .providers import supports_vision

    if supports_vision(model):
        return messages
    note = {"type": "text", "text": f"[an image was attached here; {model} cannot see images]"}
    adapted = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = [
                note if isinstance(p, dict) and p.get("type") == "image_url" else p for p in content
            ]
            message = {**message, "content": content}
        adapted.append(message)
    return adapted


def image_parts_from_bundle(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Content parts for the images in a displayed MIME bundle (PNG preferred over JPEG)."""
    for mime in DISPLAY_IMAGE_TYPES:
        payload = data.get(mime)
        if isinstance(payload, str) and payload.strip():
            encoded = "".join(payload.split())
            return [{"type": "image_url", "image_url": {"url": f"data:{mime};base64,{encoded}"}}]
    return []
