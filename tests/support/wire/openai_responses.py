"""OpenAI Responses: ``POST /v1/responses`` (the wire Codex uses), JSON and SSE."""

from __future__ import annotations

from typing import Any

from tests.support.model_steps import Reply
from tests.support.wire.common import GARBLED_DATA, SSEEvent, new_id, now, split_in_two
from tests.support.wire.openai_chat import OPENAI_CHAT


class OpenAIResponsesWire:
    api = "responses"

    def _usage(self, reply: Reply) -> dict[str, Any]:
        prompt, completion = reply.usage
        return {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion,
        }

    def _output_items(self, reply: Reply) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if reply.thinking:
            items.append(
                {
                    "id": new_id("rs_"),
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": reply.thinking}],
                }
            )
        if reply.text:
            items.append(
                {
                    "id": new_id("msg_"),
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
                }
            )
        for call in reply.tool_calls:
            items.append(
                {
                    "id": new_id("fc_"),
                    "type": "function_call",
                    "status": "completed",
                    "call_id": call.id,
                    "name": call.name,
                    "arguments": call.arguments_json,
                }
            )
        return items

    def _response(
        self, response_id: str, model: str, status: str, output: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "id": response_id,
            "object": "response",
            "created_at": now(),
            "status": status,
            "model": model,
            "output": output,
            "usage": None,
            "error": None,
            "incomplete_details": None,
        }

    def reply_body(self, reply: Reply, model: str, request: dict[str, Any]) -> dict[str, Any]:
        body = self._response(new_id("resp_"), model, "completed", self._output_items(reply))
        body["usage"] = self._usage(reply)
        return body

    def stream_events(self, reply: Reply, model: str, request: dict[str, Any]) -> list[SSEEvent]:
        response_id = new_id("resp_")
        items = self._output_items(reply)
        events: list[SSEEvent] = []

        def add(name: str, phase: str = "content", delay: float = 0.0, **fields: Any) -> None:
            data = {"type": name, "sequence_number": len(events), **fields}
            events.append(SSEEvent(data, name, phase, delay))  # type: ignore[arg-type]

        add(
            "response.created",
            "head",
            response=self._response(response_id, model, "in_progress", []),
        )
        add(
            "response.in_progress",
            "head",
            response=self._response(response_id, model, "in_progress", []),
        )
        for output_index, item in enumerate(items):
            if item["type"] == "message":
                self._stream_message(add, reply, item, output_index)
            elif item["type"] == "reasoning":
                self._stream_reasoning(add, reply, item, output_index)
            else:
                self._stream_function_call(add, reply, item, output_index)
        completed = self._response(response_id, model, "completed", items)
        completed["usage"] = self._usage(reply)
        add("response.completed", "tail", response=completed)
        return events

    def _stream_message(self, add: Any, reply: Reply, item: dict[str, Any], index: int) -> None:
        item_id = item["id"]
        opening = {**item, "status": "in_progress", "content": []}
        empty_part = {"type": "output_text", "text": "", "annotations": []}
        add("response.output_item.added", "head", output_index=index, item=opening)
        add(
            "response.content_part.added",
            "head",
            item_id=item_id,
            output_index=index,
            content_index=0,
            part=empty_part,
        )
        for piece in reply.text_chunks():
            add(
                "response.output_text.delta",
                delay=reply.delay,
                item_id=item_id,
                output_index=index,
                content_index=0,
                delta=piece,
            )
        add(
            "response.output_text.done",
            "tail",
            item_id=item_id,
            output_index=index,
            content_index=0,
            text=reply.text,
        )
        add(
            "response.content_part.done",
            "tail",
            item_id=item_id,
            output_index=index,
            content_index=0,
            part=item["content"][0],
        )
        add("response.output_item.done", "tail", output_index=index, item=item)

    def _stream_reasoning(self, add: Any, reply: Reply, item: dict[str, Any], index: int) -> None:
        item_id, summary = item["id"], item["summary"][0]
        where = {"item_id": item_id, "output_index": index, "summary_index": 0}
        add("response.output_item.added", "head", output_index=index, item={**item, "summary": []})
        add("response.reasoning_summary_part.added", "head", **where, part={**summary, "text": ""})
        add(
            "response.reasoning_summary_text.delta",
            delay=reply.delay,
            **where,
            delta=summary["text"],
        )
        add("response.reasoning_summary_text.done", **where, text=summary["text"])
        add("response.reasoning_summary_part.done", **where, part=summary)
        add("response.output_item.done", output_index=index, item=item)

    def _stream_function_call(
        self, add: Any, reply: Reply, item: dict[str, Any], index: int
    ) -> None:
        item_id = item["id"]
        opening = {**item, "status": "in_progress", "arguments": ""}
        add("response.output_item.added", delay=reply.delay, output_index=index, item=opening)
        for piece in split_in_two(item["arguments"]):
            add(
                "response.function_call_arguments.delta",
                item_id=item_id,
                output_index=index,
                delta=piece,
            )
        add(
            "response.function_call_arguments.done",
            item_id=item_id,
            output_index=index,
            arguments=item["arguments"],
        )
        add("response.output_item.done", output_index=index, item=item)

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return OPENAI_CHAT.error_body(status, message)

    def garbled_event(self) -> SSEEvent:
        return SSEEvent(GARBLED_DATA, "response.output_text.delta")

    def stream_error_event(self, status: int, message: str, model: str) -> SSEEvent:
        failed = self._response(new_id("resp_"), model, "failed", [])
        code = OPENAI_CHAT.error_body(status, message)["error"]["type"]
        failed["error"] = {"code": code, "message": message}
        data = {"type": "response.failed", "sequence_number": 0, "response": failed}
        return SSEEvent(data, "response.failed", "tail")


OPENAI_RESPONSES = OpenAIResponsesWire()
