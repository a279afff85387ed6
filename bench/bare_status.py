"""The floor of ``crewtui status ID --json``: the same GET with httpx and pydantic, no more.

Imports httpx and pydantic, asks ``GET {url}/status/{id}`` with the bearer token, checks
the answer with a pydantic model and prints it as JSON. ``bench_start.py`` runs it in a new
process, in turn with crewtui's own command.

    python bench/bare_status.py URL KICKOFF_ID      # the token in CREWAI_BEARER_TOKEN
"""

from __future__ import annotations

import os
import sys
from typing import Any

import httpx
import pydantic


class Status(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")

    state: str | None = None
    result: Any = None


def main(url: str, kickoff_id: str) -> int:
    headers = {"Authorization": f"Bearer {os.environ['CREWAI_BEARER_TOKEN']}"}
    response = httpx.get(f"{url}/status/{kickoff_id}", headers=headers, timeout=10)
    response.raise_for_status()
    print(Status.model_validate(response.json()).model_dump_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
