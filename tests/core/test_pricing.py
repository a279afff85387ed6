"""The cost estimate: a local price table, shown only when model and tokens are known."""

from __future__ import annotations

from pathlib import Path

import pytest

from crewtui.api.errors import ConfigError
from crewtui.api.rows import Usage
from crewtui.config import load_config, resolve_paths
from crewtui.core.pricing import Price, cost_text, estimate_cost, find_price, price_table

USAGE = Usage(total_tokens=12_000, prompt_tokens=10_000, completion_tokens=2_000)


def test_the_shipped_table_prices_a_known_model_under_its_service_names() -> None:
    table = price_table()
    assert find_price("gpt-4o", table) == Price(2.50, 10.00)
    assert find_price("openai/gpt-4o-2024-08-06", table) == Price(2.50, 10.00)
    # The longest name that fits: the mini is not priced as gpt-4o.
    assert find_price("GPT-4o-mini-2024-07-18", table) == Price(0.15, 0.60)
    assert find_price("gpt-4oops", table) is None
    assert find_price("my-local-llama", table) is None


def test_an_estimate_needs_the_model_its_price_and_both_token_counts() -> None:
    table = price_table()
    cost = estimate_cost(USAGE, "gpt-4o", table)
    assert cost == pytest.approx(0.045)
    assert cost_text(0.045) == "≈ $0.045 (estimate)"
    assert cost_text(12.3456) == "≈ $12.35 (estimate)"
    assert cost_text(0.0001) == "≈ <$0.001 (estimate)"
    assert estimate_cost(USAGE, None, table) is None
    assert estimate_cost(USAGE, "my-local-llama", table) is None
    assert estimate_cost(None, "gpt-4o", table) is None
    assert estimate_cost(Usage(total_tokens=12_000), "gpt-4o", table) is None


def test_the_config_adds_and_corrects_prices(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path)
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text(
        '[prices."my-local-llama"]\ninput = 0.0\noutput = 0.0\n'
        '[prices."gpt-4o"]\ninput = 5\noutput = 20\n'
    )
    table = load_config(paths).price_table
    assert estimate_cost(USAGE, "my-local-llama", table) == 0.0
    assert estimate_cost(USAGE, "gpt-4o", table) == pytest.approx(0.09)


def test_a_price_that_is_not_a_price_is_refused_in_one_sentence(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path)
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text('[prices."gpt-4o"]\ninput = -1\noutput = 2\n')
    with pytest.raises(ConfigError, match=r"bad value for 'prices\.gpt-4o\.input'"):
        load_config(paths)
