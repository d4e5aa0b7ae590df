"""Human-in-the-loop facts: ``human.input_requested`` and ``human.input_received``."""

from __future__ import annotations

from typing import Literal

from pydantic import JsonValue

from omium.schemas.base import Event, Payload


class HumanInputRequestedPayload(Payload):
    """The payload of :class:`HumanInputRequested`."""

    request_id: str
    prompt: str
    step: str | None = None
    expected: JsonValue = None


class HumanInputRequested(Event):
    """The run waits for a person's answer."""

    type: Literal["human.input_requested"] = "human.input_requested"
    version: Literal[1] = 1
    payload: HumanInputRequestedPayload


class HumanInputReceivedPayload(Payload):
    """The payload of :class:`HumanInputReceived`."""

    request_id: str
    value: JsonValue = None
    by: str | None = None


class HumanInputReceived(Event):
    """A person answered; the run may continue."""

    type: Literal["human.input_received"] = "human.input_received"
    version: Literal[1] = 1
    payload: HumanInputReceivedPayload
