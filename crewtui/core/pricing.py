"""An estimated cost of a run: its tokens priced from a local table, never the service's word.

The service never sends a cost. crewtui multiplies the prompt and completion tokens it was
told by a price per million tokens of the model the service named. The table below ships
with a few current models; ``[prices."model-name"]`` in the config adds or overrides one.
The estimate ignores cached-prompt discounts, reasoning surcharges, batch rates and any
deal the account has: it is labelled as an estimate wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from crewtui.api.rows import Usage


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens: ``input`` for prompt tokens, ``output`` for completion ones."""

    input: float
    output: float


# List prices per million tokens in USD, from the providers' public pricing pages as of
# 2025-08 (standard tier, no cache or batch discount). Extend or correct them in the config.
SHIPPED_PRICES: Mapping[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "o3": Price(2.00, 8.00),
    "o4-mini": Price(1.10, 4.40),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-opus-4": Price(15.00, 75.00),
    "claude-3-5-haiku": Price(0.80, 4.00),
    "gemini-2.5-pro": Price(1.25, 10.00),
    "gemini-2.5-flash": Price(0.30, 2.50),
}


def price_table(configured: Mapping[str, Price] | None = None) -> dict[str, Price]:
    """The shipped prices with the configured ones on top, keyed by lower-case name."""
    table = {name.lower(): price for name, price in SHIPPED_PRICES.items()}
    table.update({name.strip().lower(): price for name, price in (configured or {}).items()})
    return table


def find_price(model: str, table: Mapping[str, Price]) -> Price | None:
    """The price of ``model`` as the service names it: ``openai/gpt-4o-2024-08-06`` is
    ``gpt-4o``. An exact name wins, else the longest table name the model's name starts
    with (``gpt-4o-mini-…`` is the mini, not ``gpt-4o``); an unknown model has no price."""
    name = model.strip().lower()
    for candidate in (name, name.rpartition("/")[2]):
        if candidate in table:
            return table[candidate]
        prefixes = [key for key in table if candidate.startswith(key + "-")]
        if prefixes:
            return table[max(prefixes, key=len)]
    return None


def estimate_cost(
    usage: Usage | None, model: str | None, table: Mapping[str, Price]
) -> float | None:
    """USD for ``usage`` at ``model``'s price; None unless the model, its price and both
    the prompt and completion tokens are known (a partial count would understate it)."""
    if usage is None or model is None:
        return None
    price = find_price(model, table)
    if price is None or usage.prompt_tokens is None or usage.completion_tokens is None:
        return None
    return (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6


def cost_text(cost: float) -> str:
    """``≈ $0.042 (estimate)``: three decimals below a dollar, cents above."""
    if cost < 0.001:
        return "≈ <$0.001 (estimate)"
    amount = f"{cost:.3f}" if cost < 1 else f"{cost:,.2f}"
    return f"≈ ${amount} (estimate)"
