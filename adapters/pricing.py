"""What a model call costs: :mod:`omium.producers.pricing`, re-exported for the adapters."""

from omium.producers.pricing import PRICES, cost_usd, price_of

__all__ = ["PRICES", "cost_usd", "price_of"]
