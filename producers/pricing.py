"""What a model call costs: a small price table and :func:`cost_usd`. Pure.

The one place an ``llm.call``'s ``cost_usd`` comes from, whatever recorded the call
(:func:`omium.producers.llm_call` in a step or a LangGraph node, a CrewAI crew's
listener). It sits in ``producers`` so that every recording path can import it;
``omium.adapters.pricing`` re-exports it.

Prices are USD per one million tokens (input, output), as the providers list them for
their standard (non-batch, non-cached) API tiers; they were checked in 2025 and change
over time, so treat the result as an estimate::

    cost_usd("gpt-4o-mini", 12_000, 800)          # 0.00228
    cost_usd("openai/gpt-4o-2024-08-06", 1, 1)    # dated and provider-prefixed names match
    cost_usd("my-finetune", 10, 10)               # None: unknown, not free

A model name matches the longest table key it starts with, after dropping a
``provider/`` prefix and lower-casing, so ``gpt-4o-mini-2024-07-18`` is priced as
``gpt-4o-mini`` (not ``gpt-4o``). The scripted LLM (``scripted``) is free.
"""

from __future__ import annotations

from collections.abc import Mapping

#: model name (prefix) -> (USD per 1M input tokens, USD per 1M output tokens)
PRICES: Mapping[str, tuple[float, float]] = {
    "scripted": (0.0, 0.0),
    # OpenAI
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.00, 60.00),
    "o1-mini": (1.10, 4.40),
    "o3-mini": (1.10, 4.40),
    # Anthropic
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-haiku": (0.25, 1.25),
    "claude-3-opus": (15.00, 75.00),
    "claude-opus-4": (15.00, 75.00),
    # Google
    "gemini-1.5-pro": (1.25, 5.00),
    "gemini-1.5-flash": (0.075, 0.30),
    "gemini-2.0-flash": (0.10, 0.40),
}

_PER_TOKEN = 1_000_000


def price_of(
    model: str, prices: Mapping[str, tuple[float, float]] = PRICES
) -> tuple[float, float] | None:
    """``(input, output)`` USD per 1M tokens for ``model``, or None when it is not listed."""
    name = model.strip().lower().rpartition("/")[2]
    best: str | None = None
    for key in prices:
        if name == key or name.startswith(key + "-") or name.startswith(key + "@"):
            if best is None or len(key) > len(best):
                best = key
    return None if best is None else prices[best]


def cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    prices: Mapping[str, tuple[float, float]] = PRICES,
) -> float | None:
    """USD cost of one call, or None when the model's price is unknown.

    Args:
        model: the model name as the provider spells it (``provider/`` prefix allowed).
        input_tokens: prompt tokens sent.
        output_tokens: completion tokens received.
        prices: the table to use (defaults to :data:`PRICES`; pass your own for contracts).
    """
    price = price_of(model, prices)
    if price is None:
        return None
    per_input, per_output = price
    return (input_tokens * per_input + output_tokens * per_output) / _PER_TOKEN
