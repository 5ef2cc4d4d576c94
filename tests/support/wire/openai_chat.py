"""OpenAI chat completions: ``POST /v1/chat/completions`` (JSON and SSE)."""

from __future__ import annotations

from typing import Any

from tests.support.model_steps import Reply
from tests.support.wire.common import GARBLED_DATA, SSEEvent, new_id, now, split_in_two

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_api_key",
    403: "permission_denied",
    404: "not_found_error",
    429: "rate_limit_exceeded",
}


class OpenAIChatWire:
    api = "openai"

    def _usage(self, reply: Reply) -> dict[str, int]:
        prompt, completion = reply.usage
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _finish_reason(self, reply: Reply) -> str:
        return "tool_calls" if reply.tool_calls else "stop"

    def reply_body(self, reply: Reply, model: str, request: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.thinking:
            message["reasoning_content"] = reply.thinking
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json},
                }
                for call in reply.tool_calls
            ]
        return {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": now(),
            "model": model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": self._finish_reason(reply)}
            ],
            "usage": self._usage(reply),
        }

    def stream_events(self, reply: Reply, model: str, request: dict[str, Any]) -> list[SSEEvent]:
        completion_id, created = new_id("chatcmpl-"), now()

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        events = [SSEEvent(chunk({"role": "assistant", "content": ""}), phase="head")]
        if reply.thinking:
            delta = {"reasoning_content": reply.thinking}
            events.append(SSEEvent(chunk(delta), delay=reply.delay))
        for piece in reply.text_chunks():
            events.append(SSEEvent(chunk({"content": piece}), delay=reply.delay))
        for index, call in enumerate(reply.tool_calls):
            opening = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            events.append(SSEEvent(chunk({"tool_calls": [opening]}), delay=reply.delay))
            for piece in split_in_two(call.arguments_json):
                delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                events.append(SSEEvent(chunk(delta)))
        events.append(SSEEvent(chunk({}, self._finish_reason(reply)), phase="tail"))
        if (request.get("stream_options") or {}).get("include_usage"):
            usage_chunk = {**chunk({}), "choices": [], "usage": self._usage(reply)}
            events.append(SSEEvent(usage_chunk, phase="tail"))
        events.append(SSEEvent("[DONE]", phase="tail"))
        return events

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        error_type = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "error")
        return {"error": {"message": message, "type": error_type, "param": None, "code": None}}

    def garbled_event(self) -> SSEEvent:
        return SSEEvent(GARBLED_DATA)

    def stream_error_event(self, status: int, message: str, model: str) -> SSEEvent:
        return SSEEvent(self.error_body(status, message), phase="tail")


OPENAI_CHAT = OpenAIChatWire()
