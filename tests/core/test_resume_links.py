"""Answering a pause through the tracker: the run's webhook URLs go again, runs are linked.

Against the simulator in both dialects, which (like the service) refuses a resume that does
not repeat the webhook URLs the run was started with. The URLs are a real receiver's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crewtui.api.models import Kickoff
from crewtui.api.states import RunState
from crewtui.core.store import Store
from crewtui.core.tracker import Tracker
from crewtui.core.webhooks import WebhookReceiver
from crewtui.sim import SimServer
from tests.core.test_tracker import FAST, profile
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(60)

SECRET = "resume-links-secret-0123456789"


def _done_one_task(kickoff: Kickoff | None) -> bool:
    """Waiting after its first task, in either dialect (the documented one reads running)."""
    return kickoff is not None and kickoff.progress is not None and kickoff.progress.completed == 1


async def _start_on_hold(sim: SimServer, store: Store) -> Kickoff:
    """A session with a webhook receiver starts a run that waits for input, then ends."""
    first = Tracker([profile(sim, "travel")], store, FAST)
    receiver = WebhookReceiver(first.ingest, first.is_tracked, secret=SECRET)
    await receiver.start()
    first.webhook_urls = receiver.urls
    try:
        async with first:
            inputs = sim.sample_inputs("travel") | {"hold": "1"}
            kickoff = await first.kickoff("travel", inputs)
            await wait_until(first, lambda: _done_one_task(first.get(kickoff.kickoff_id)))
    finally:
        await receiver.stop()
    return kickoff


async def test_a_later_session_resends_the_runs_webhook_urls_and_links_the_runs(
    sim_any: SimServer, tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "history.sqlite3")
    kickoff = await _start_on_hold(sim_any, store)
    old_id = kickoff.kickoff_id
    # The URLs (which hold the receiver's secret) are kept, and shown nowhere.
    stored = store.get_kickoff(old_id)
    assert stored is not None
    assert SECRET not in stored.model_dump_json() + repr(stored)

    later = Tracker([profile(sim_any, "travel")], store, FAST)  # no receiver this time
    async with later:
        resumed = await later.resume(old_id, feedback="Looks good")
        new_id = resumed.kickoff.kickoff_id
        await wait_until(later, lambda: (k := later.get(new_id)) is not None and k.is_terminal)

    if sim_any.options.dialect == "documented":
        assert resumed.continues_as is None and resumed.status == "resumed"
        store.close()
        return
    assert resumed.continues_as == new_id != old_id
    old, new = store.get_kickoff(old_id), store.get_kickoff(new_id)
    assert old is not None and new is not None
    assert (old.continues, old.continued_from) == (new_id, None)
    assert (new.continues, new.continued_from) == (None, old_id)
    assert new.webhooks == old.webhooks  # ready for a later pause of the new run
    assert new.webhooks is not None and SECRET in str(new.webhooks.task)
    rows = {row.kickoff_id: row for row in store.list_kickoffs()}
    assert rows[old_id].continues == new_id and rows[new_id].continued_from == old_id
    status = new.to_status().model_dump(mode="json")
    assert status["continued_from"] == old_id and status["continues"] is None
    store.close()


async def test_a_continued_run_is_no_longer_polled_and_the_new_one_is_to_its_end(
    sim: SimServer, tmp_path: Path
) -> None:
    """Live answers a resume under a new id: the old id may read "paused" for ever there,
    so polling it would spend the crew's budget for nothing. The simulator counts each
    id's status requests."""
    store = Store.open(tmp_path / "history.sqlite3")
    old_id = (await _start_on_hold(sim, store)).kickoff_id
    later = Tracker([profile(sim, "travel")], store, FAST)
    async with later:
        before = sim.counts.status_polls[old_id]
        # The paused run is followed until it is answered.
        await wait_until(later, lambda: sim.counts.status_polls[old_id] > before)
        resumed = await later.resume(old_id, feedback="Looks good")
        new_id = resumed.continues_as
        assert new_id is not None
        polled_until_answered = sim.counts.status_polls[old_id]
        await wait_until(later, lambda: (k := later.get(new_id)) is not None and k.is_terminal)
        assert later.get(old_id).continues == new_id  # type: ignore[union-attr]
    assert sim.counts.status_polls[old_id] == polled_until_answered
    assert sim.counts.status_polls[new_id] >= 2  # followed, not merely looked up once
    assert store.get_kickoff(new_id).state is RunState.COMPLETED  # type: ignore[union-attr]
    store.close()
