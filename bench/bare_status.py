"""The floor of ``crewtui status ID --json``: the same GET with httpx and pydantic, no more.

Imports httpx and pydantic, asks ``GET {url}/status/{id}`` with the bearer token, checks
the answer with a pydantic model and prints it as JSON. ``bench_start.py`` runs it in a new
process, in turn with crewtui's own command.

With ``--async`` it does the same with ``httpx.AsyncClient`` under asyncio, as any async
client (crewtui's included) must: what asyncio and httpcore's async stack (anyio) cost on
their own, shown beside the judged ratio.

    python bench/bare_status.py [--async] URL KICKOFF_ID   # the token in CREWAI_BEARER_TOKEN
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
    response = httpx.get(f"{url}/status/{kickoff_id}", headers=_headers(), timeout=10)
    return _printed(response)


async def main_async(url: str, kickoff_id: str) -> int:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{url}/status/{kickoff_id}", headers=_headers())
    return _printed(response)


def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ['CREWAI_BEARER_TOKEN']}"}


def _printed(response: httpx.Response) -> int:
    response.raise_for_status()
    print(Status.model_validate(response.json()).model_dump_json())
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--async":
        import asyncio

        raise SystemExit(asyncio.run(main_async(sys.argv[2], sys.argv[3])))
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
