"""The chat comm: prompts, commands and bad messages over a real kernel's comm channel."""

from __future__ import annotations

import base64

from aiikernel.chat import protocol, target
from tests.kernel.chat_helpers import ChatClient
from tests.support.model_steps import Reply


def test_target_names_agree():
    assert target.TARGET_NAME == protocol.TARGET_NAME


def test_open_prompt_command_and_bad_messages(ai_kernel, model_server):
    km, kc = ai_kernel
    chat = ChatClient(kc)
    first, _ = chat.collect(lambda m: m["type"] == "state")
    assert first[-1]["model"] == "openai/scripted" and first[-1]["busy"] is False

    model_server.script(
        Reply("On it.\n```py\nfrom_chat = 7 * 6\nprint('chat says', from_chat)\n```"),
        Reply("It is 42."),
    )
    request_id = chat.request({"type": "prompt", "request_id": "r1", "text": "compute"})
    messages, outputs = chat.collect(lambda m: m.get("event", {}).get("kind") == "done")
    events = [m["event"] for m in messages if m["type"] == "event"]
    assert all(m["request_id"] == "r1" for m in messages if m["type"] == "event")
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "turn_started" and kinds[-1] == "done" and "code_finished" in kinds
    assert events[-1]["reason"] == "answered"
    finished = next(e for e in events if e["kind"] == "code_finished")
    assert finished["stdout"] == "chat says 42\n"
    # the code's own output went to iopub with the chat request as its parent
    streams = [o for o in outputs if o["msg_type"] == "stream"]
    assert streams and streams[0]["parent_header"]["msg_id"] == request_id

    # the chat and cells share one namespace and one conversation
    from tests.support.kernels import execute

    assert execute(kc, "print(from_chat)").stream_text().strip() == "42"

    chat.request({"type": "command", "request_id": "c1", "line": "/history"})
    result, _ = chat.collect(lambda m: m["type"] == "command_result")
    assert result[-1]["ok"] is True and result[-1]["data"]["prompts"] == 1

    chat.request({"type": "command", "request_id": "c2", "line": "/nope"})
    result, _ = chat.collect(lambda m: m["type"] == "command_result")
    assert result[-1]["ok"] is False and "Unknown command" in result[-1]["markdown"]

    for bad in (
        {"type": "prompt", "request_id": "b1"},
        {"type": "launch-missiles"},
        "just a string",
        {"type": "prompt", "request_id": "b2", "text": "x", "extra": 1},
    ):
        chat.request(bad)
        errors, _ = chat.collect(lambda m: m["type"] == "error")
        assert errors[-1]["message"].startswith("invalid chat message")

    chat.request({"type": "state", "request_id": "s1"})
    state, _ = chat.collect(lambda m: m["type"] == "state")
    assert state[-1]["messages"] == 4 and state[-1]["request_id"] == "s1"
    assert execute(kc, "print('kernel fine')").stream_text().strip() == "kernel fine"


def test_mentions_reach_the_model_and_names_are_listed(ai_kernel, model_server):
    from tests.kernel.chat_helpers import is_done

    km, kc = ai_kernel
    chat = ChatClient(kc)
    chat.collect(lambda m: m["type"] == "state")
    from tests.support.kernels import execute

    execute(kc, "scores = {'ann': 3, 'bob': 5}\nlimit = 7")
    names = chat.ask({"type": "names", "request_id": "n1"}, "names")["names"]
    assert {"name": "scores", "type": "dict"} in names and {"name": "limit", "type": "int"} in names

    model_server.script(Reply("Bob wins."))
    chat.execute_request(
        {
            "type": "prompt",
            "request_id": "m1",
            "text": "who wins in @scores?",
            "attachments": [
                {"kind": "variable", "name": "scores"},
                {"kind": "variable", "name": "missing"},
                {"kind": "text", "label": "@file:notes.txt", "text": "bob cheated"},
            ],
        }
    )
    chat.collect(is_done)
    content = model_server.model_requests()[-1].body_json["messages"][-1]["content"]
    text = "\n".join(part["text"] for part in content)
    assert text.startswith("who wins in @scores?")
    assert "Attached @scores:\nscores: dict len=2" in text and "'bob': 5" in text
    assert "`missing` is not defined" in text
    assert "Attached @file:notes.txt:\nbob cheated" in text
    history = chat.ask({"type": "history", "request_id": "h1"}, "history")
    assert history["turns"][-1]["attachments"] == ["@scores", "@missing", "@file:notes.txt"]


def test_pasted_images_reach_the_model_and_bad_ones_are_explained(model_server, tmp_path):
    """An image pasted into the panel goes with the prompt (kept in `images`, like /image);
    data that is not an image reaches neither the model as an image nor the namespace."""
    from tests.support.kernels import model_env, running_kernel

    # a home of its own: `%model` is remembered there for later kernels
    env = model_env(model_server, AIIPYTHON_HOME=str(tmp_path / "home"))
    with running_kernel("aiipython", env=env, cwd=tmp_path) as (km, kc):
        _paste_images(model_server, kc)


def _paste_images(model_server, kc) -> None:
    from tests.kernel.chat_helpers import is_done
    from tests.lm.images import png_bytes
    from tests.support.kernels import execute

    chat = ChatClient(kc)
    chat.collect(lambda m: m["type"] == "state")
    kc.execute("%model openai/gpt-4o")  # a model that takes images
    # a model chosen in a cell reaches the panels' footers without a request of theirs
    chat.collect(lambda m: m["type"] == "state" and m["model"] == "openai/gpt-4o")
    image = png_bytes(4, 3)
    model_server.script(Reply("A small picture."))
    chat.execute_request(
        {
            "type": "prompt",
            "request_id": "i1",
            "text": "what is this?",
            "attachments": [
                {"kind": "image", "label": "shot.png", "data": base64.b64encode(image).decode()},
                {
                    "kind": "image",
                    "label": "notes.png",
                    "data": base64.b64encode(b"hello").decode(),
                },
                {"kind": "image", "label": "junk.png", "data": "%%% not base64 %%%"},
            ],
        }
    )
    chat.collect(is_done)
    content = model_server.model_requests()[-1].body_json["messages"][-1]["content"]
    images = [p for p in content if p["type"] == "image_url"]
    assert len(images) == 1
    assert base64.b64decode(images[0]["image_url"]["url"].split(",", 1)[1]) == image
    notes = "\n".join(p["text"] for p in content if p["type"] == "text")
    assert (
        "notes.png: not an image" in notes
        and "junk.png: the pasted data is not valid base64" in notes
    )
    history = chat.ask({"type": "history", "request_id": "h1"}, "history")
    labels = history["turns"][-1]["attachments"]
    assert labels[0] == "images['shot.png']"
    assert labels[1].startswith("notes.png (not attached: ") and labels[2].startswith("junk.png (")
    kept = execute(kc, "print(sorted(images), len(images['shot.png'].data))").stream_text()
    assert kept.strip() == f"['shot.png'] {len(image)}"
