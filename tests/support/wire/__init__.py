"""Wire formats of the scripted model server: one module per API, same small interface.

Each module turns a `Reply` into a non-streaming JSON body or a list of `SSEEvent`s, and an
error into the API's own error body. The HTTP handler owns timing, faults and truncation.
"""

from tests.support.wire.anthropic_messages import ANTHROPIC_MESSAGES
from tests.support.wire.common import SSEEvent, WireFormat
from tests.support.wire.openai_chat import OPENAI_CHAT
from tests.support.wire.openai_responses import OPENAI_RESPONSES

__all__ = ["ANTHROPIC_MESSAGES", "OPENAI_CHAT", "OPENAI_RESPONSES", "SSEEvent", "WireFormat"]
