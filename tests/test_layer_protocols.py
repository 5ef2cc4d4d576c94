"""The upper objects have every member the lower layers' Protocols name.

Why: a lower layer names what it uses of an upper object as a ``Protocol`` instead of importing
its class (docs/development.md, "Layers"). Nothing runs a type checker in CI, so without this
test a renamed session, manager, backend or hub member would only fail when that code path runs.
"""

from __future__ import annotations

import typing

import pytest

from aiikernel.aimax.backends import SUPPORTED_BACKENDS
from aiikernel.aimax.config import AimaxConfig
from aiikernel.aimax.delivery import DeliveryBackend, DeliveryHost
from aiikernel.aimax.host import BackendHost, TranscriptSource
from aiikernel.aimax.manager import AimaxManager
from aiikernel.aimax.runtime import ScreenSource
from aiikernel.chat.channel import ChannelHub
from aiikernel.chat.hub import ChatHub
from aiikernel.checkpoints.commands import CheckpointSession
from aiikernel.lm.session_view import SessionView
from aiikernel.session import AiSession


def protocol_members(protocol: type) -> set[str]:
    """Attributes, methods and properties a Protocol declares (its Protocol bases included)."""
    names: set[str] = set()
    for base in protocol.__mro__:
        if base in (object, typing.Protocol, typing.Generic):
            continue
        names |= set(getattr(base, "__annotations__", {}))
        names |= {
            name
            for name, value in vars(base).items()
            if not name.startswith("__") and (callable(value) or isinstance(value, property))
        }
    return names


def missing(obj: object, protocol: type) -> set[str]:
    """Members of ``protocol`` that ``obj`` lacks (class attributes are not evaluated)."""
    return {
        name
        for name in protocol_members(protocol)
        if not hasattr(type(obj), name) and name not in vars(obj)
    }


@pytest.fixture
def manager(tmp_path):
    return AimaxManager(AimaxConfig.from_env({"HOME": str(tmp_path)}))


def test_the_session_is_what_lm_and_checkpoints_use_of_it():
    session = AiSession()
    assert missing(session, SessionView) == set()
    assert missing(session, CheckpointSession) == set()


def test_the_chat_hub_is_what_its_channels_use_of_it():
    assert missing(ChatHub(AiSession()), ChannelHub) == set()


def test_the_manager_is_what_its_backends_and_delivery_use_of_it(manager):
    assert missing(manager, BackendHost) == set()
    assert missing(manager, DeliveryHost) == set()


@pytest.mark.parametrize("name", SUPPORTED_BACKENDS)
def test_each_backend_is_what_delivery_tailing_and_runtime_use_of_it(manager, name):
    backend = manager.backend(name)
    for protocol in (DeliveryBackend, TranscriptSource, ScreenSource):
        assert missing(backend, protocol) == set(), protocol.__name__


def test_the_check_sees_a_missing_member(manager):
    assert {"namespace", "mark_changed", "observers"} <= protocol_members(SessionView)
    assert {"recorder", "registry", "runtime", "stop_tail"} <= protocol_members(BackendHost)
    assert {"model_override", "namespace"} <= missing(manager, SessionView)
