"""Anthropic Messages: ``POST /v1/messages`` (JSON and the full SSE event sequence)."""

from __future__ import annotations

from typing import Any

from tests.support.model_steps import Reply
from tests.support.wire.common import GARBLED_DATA, SSEEvent, new_id, split_in_two

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


# Real signatures are opaque and verified by the API only; clients just echo them back.
_SIGNATURE = "c2NyaXB0ZWQtc2lnbmF0dXJl"


class AnthropicMessagesWire:
    api = "anthropic"

    def _usage(self, reply: Reply, output_tokens: int | None = None) -> dict[str, Any]:
        prompt, completion = reply.usage
        return {
            "input_tokens": prompt,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": completion if output_tokens is None else output_tokens,
        }

    def _stop_reason(self, reply: Reply) -> str:
        return "tool_use" if reply.tool_calls else "end_turn"

    def _message(self, reply: Reply, model: str, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": self._usage(reply),
        }

    def reply_body(self, reply: Reply, model: str, request: dict[str, Any]) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.thinking:
            content.append(
                {"type": "thinking", "thinking": reply.thinking, "signature": _SIGNATURE}
            )
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        for call in reply.tool_calls:
            content.append(
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
            )
        return {**self._message(reply, model, content), "stop_reason": self._stop_reason(reply)}

    def stream_events(self, reply: Reply, model: str, request: dict[str, Any]) -> list[SSEEvent]:
        start = self._message(reply, model, [])
        start["usage"] = self._usage(reply, output_tokens=1)
        events = [
            SSEEvent({"type": "message_start", "message": start}, "message_start", "head"),
        ]
        index = 0
        if reply.thinking:
            block = {"type": "thinking", "thinking": "", "signature": ""}
            events.append(
                self._event("content_block_start", "head", index=index, content_block=block)
            )
            delta = {"type": "thinking_delta", "thinking": reply.thinking}
            events.append(self._event("content_block_delta", index=index, delta=delta))
            events[-1].delay = reply.delay
            delta = {"type": "signature_delta", "signature": _SIGNATURE}
            events.append(self._event("content_block_delta", index=index, delta=delta))
            events.append(self._event("content_block_stop", index=index))
            index += 1
        chunks = reply.text_chunks()
        if chunks:
            block = {"type": "text", "text": ""}
            events.append(
                self._event("content_block_start", "head", index=index, content_block=block)
            )
            for piece in chunks:
                delta = {"type": "text_delta", "text": piece}
                events.append(self._event("content_block_delta", index=index, delta=delta))
                events[-1].delay = reply.delay
            events.append(self._event("content_block_stop", "tail", index=index))
            index += 1
        for call in reply.tool_calls:
            block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            events.append(self._event("content_block_start", index=index, content_block=block))
            events[-1].delay = reply.delay
            for piece in split_in_two(call.arguments_json):
                delta = {"type": "input_json_delta", "partial_json": piece}
                events.append(self._event("content_block_delta", index=index, delta=delta))
            events.append(self._event("content_block_stop", index=index))
            index += 1
        events.append(
            self._event(
                "message_delta",
                "tail",
                delta={"stop_reason": self._stop_reason(reply), "stop_sequence": None},
                usage={"output_tokens": reply.usage[1]},
            )
        )
        events.append(self._event("message_stop", "tail"))
        return events

    def _event(self, name: str, phase: str = "content", **fields: Any) -> SSEEvent:
        return SSEEvent({"type": name, **fields}, name, phase)  # type: ignore[arg-type]

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        error_type = _ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": error_type, "message": message}}

    def garbled_event(self) -> SSEEvent:
        return SSEEvent(GARBLED_DATA, "content_block_delta")

    def stream_error_event(self, status: int, message: str, model: str) -> SSEEvent:
        return SSEEvent(self.error_body(status, message), "error", "tail")


ANTHROPIC_MESSAGES = AnthropicMessagesWire()
