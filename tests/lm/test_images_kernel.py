"""/image and displayed images through a real kernel, checked on the wire."""

from __future__ import annotations

import base64
import os

import pytest

from tests.support.gateways import BOTH_BACKENDS
from tests.support.model_steps import Reply

from .images import png_bytes

pytestmark = BOTH_BACKENDS  # every test runs against in-kernel litellm and the gateway


def _image_parts(request) -> list[dict]:
    content = request.body_json["messages"][-1]["content"]
    assert isinstance(content, list), content
    return [p for p in content if p.get("type") == "image_url"]


def _decoded(part: dict) -> bytes:
    url = part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    return base64.b64decode(url.split(",", 1)[1])


def test_image_is_loaded_attached_and_sent_to_vision_models(lm_kernel, model_server, tmp_path):
    k = lm_kernel
    image = png_bytes(3, 2)
    (tmp_path / "dot.png").write_bytes(image)
    k.ok("%ai /login openai sk-image-test-0123456789")

    # a model litellm does not know to accept images: loaded, not attached, and told why
    refused = k.ok("%ai /image dot.png").all_text()
    assert "not attached" in refused and "does not accept images" in refused
    assert k.ok("print(images['dot.png'])").stream_text().strip() == (
        f"<image 'dot.png' image/png, {len(image)} bytes>"
    )

    k.ok("%model openai/gpt-4o")
    attached = k.ok("%image dot.png").all_text()
    assert "attached it to your next prompt" in attached
    model_server.script(Reply("A red dot."), Reply("Still a dot."))
    k.ok("%%ai\nwhat is in this picture?")
    sent = model_server.model_requests()[-1]
    content = sent.body_json["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "what is in this picture?"}
    (part,) = _image_parts(sent)
    assert _decoded(part) == image

    # the image is sent once: the next prompt has no attachment of its own
    k.ok("%%ai\nand now?")
    assert model_server.model_requests()[-1].body_json["messages"][-1]["content"] == "and now?"


def test_image_mistakes_are_explained(lm_kernel, tmp_path):
    k = lm_kernel
    (tmp_path / "notes.png").write_text("this is text, not a picture")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "folder").mkdir()
    cases = {
        "missing.png": "missing.png: no such file",
        "notes.png": "notes.png: not an image (PNG, JPEG, GIF or WebP expected)",
        "empty.png": "empty.png: the file is empty",
        "folder": "folder: is a directory",
        "": "give one image path",
    }
    for path, message in cases.items():
        result = k.ok(f"%ai /image {path}")
        assert message in result.all_text(), (path, result.all_text())
        assert result.errors() == []
    k.ok("images = 5")
    (tmp_path / "ok.png").write_bytes(png_bytes())
    taken = k.ok("%ai /image ok.png").all_text()
    assert "`images` in your namespace is a int" in taken


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files whatever their mode")
def test_unreadable_image_is_explained(lm_kernel, tmp_path):
    path = tmp_path / "secret.png"
    path.write_bytes(png_bytes())
    path.chmod(0)
    assert "permission denied" in lm_kernel.ok("%ai /image secret.png").all_text()


def test_displayed_images_go_back_to_vision_models_when_enabled(lm_kernel, model_server, tmp_path):
    k = lm_kernel
    image = png_bytes(4, 4, (0, 0, 255))
    (tmp_path / "blue.png").write_bytes(image)
    k.ok("%ai /login openai sk-image-test-0123456789")
    show = (
        "```py\nfrom IPython.display import Image, display\n"
        "display(Image(filename='blue.png'))\n```"
    )
    # off by default: the model is told an image was displayed, but gets no pixels
    model_server.script(Reply(show), Reply("ok"))
    k.ok("%%ai -m openai/gpt-4o\nshow the picture")
    feedback = model_server.model_requests()[-1].body_json["messages"][-1]["content"]
    assert isinstance(feedback, str) and "image/png" in feedback

    k.ok("%config AiModels.send_displayed_images = True")
    model_server.script(Reply(show), Reply("It is blue."))
    k.ok("%%ai -m openai/gpt-4o\nshow it again")
    (part,) = _image_parts(model_server.model_requests()[-1])
    assert _decoded(part) == image

    # a model without vision gets a note in place of the pixels, and the turn still works
    model_server.script(Reply("I cannot see it."))
    k.ok("%%ai -m openai/scripted\nwhat colour was it?")
    messages = model_server.model_requests()[-1].body_json["messages"]
    text = str(messages)
    assert "data:image/png" not in text
    assert "openai/scripted cannot see images" in text
