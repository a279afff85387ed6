"""The inputs the demo's runs are started with: a few plausible requests per crew.

The first request of each crew is the simulator's own sample, so the demo and the tests
agree on what a "usual" run looks like; the others make a list of runs read like the work
of a team rather than one run repeated.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from types import MappingProxyType

from crewtui.sim.crews import CREWS, DEPLOYMENTS, FLOWS

_MORE: Mapping[str, tuple[Mapping[str, str], ...]] = MappingProxyType(
    {
        "travel": (
            {"budget": "2500 EUR", "interests": "food, temples, hiking", "duration": "10 days",
             "age": "42"},
            {"budget": "800 USD", "interests": "anime, street food", "duration": "5 days",
             "age": "24"},
            {"budget": "3000 USD", "interests": "architecture, onsen, design",
             "duration": "14 days", "age": "58"},
        ),
        "outreach": (
            {"name": "Priya Raman", "title": "Head of Platform", "company": "Lumen Freight",
             "industry": "logistics", "our_product": "Beacon Observability",
             "linkedin_url": "https://www.linkedin.com/in/priya-raman-example"},
            {"name": "Marco Bellini", "title": "CTO", "company": "Ortica Health",
             "industry": "healthcare", "our_product": "Beacon Observability",
             "linkedin_url": "https://www.linkedin.com/in/marco-bellini-example"},
            {"name": "Sofia Lind", "title": "Director of SRE", "company": "Fjord Payments",
             "industry": "payments", "our_product": "Beacon Incident Desk",
             "linkedin_url": "https://www.linkedin.com/in/sofia-lind-example"},
        ),
        "content": (
            {"topic": "Observability for small teams", "audience": "engineering managers"},
            {"topic": "Prompt evaluation in practice", "audience": "ML engineers"},
            {"topic": "Writing good incident reviews", "audience": "on-call engineers"},
            {"topic": "Choosing a vector database", "audience": "backend developers"},
        ),
        "research": (
            {"topic": "small language models on device"},
            {"topic": "agent evaluation benchmarks"},
            {"topic": "carbon-aware job scheduling"},
            {"topic": "WebAssembly on the server"},
        ),
        "onboarding": (
            {"name": "Lars Eriksen", "email": "lars@example.net", "company": "Nordlys Energy",
             "plan": "Business"},
            {"name": "Amara Okafor", "email": "amara.okafor@example.com",
             "company": "Baobab Health", "plan": "Starter"},
        ),
    }
)  # fmt: skip

CREW_NAMES: tuple[str, ...] = tuple(CREWS)
# The deployments the demo's later runs go to: the crews, and the flow now and then.
DEPLOYMENT_NAMES: tuple[str, ...] = (*CREW_NAMES, *FLOWS)


def requests(crew: str) -> tuple[Mapping[str, str], ...]:
    """Every request the demo may send to ``crew``, the simulator's sample first."""
    return (DEPLOYMENTS[crew].sample_inputs, *_MORE.get(crew, ()))


def pick_inputs(crew: str, rng: random.Random) -> dict[str, str]:
    """One of ``crew``'s requests, chosen by ``rng`` (so a seed repeats the same choices)."""
    return dict(rng.choice(requests(crew)))
