"""The off-lock runner: jobs in the executor, results applied in next-tick callbacks, requests
made while a job runs coalesced so that only the newest one runs next."""

from __future__ import annotations

import asyncio
import inspect

from explorer_app._runner import Runner


class FakeServerDoc:
    """Records next-tick callbacks as a served Document would schedule them."""

    session_context = object()

    def __init__(self):
        self.callbacks = []

    def add_next_tick_callback(self, callback):
        self.callbacks.append(callback)


async def drain(doc):
    while doc.callbacks:
        callback = doc.callbacks.pop(0)
        result = callback()
        if inspect.isawaitable(result):
            await result


def test_newest_request_wins_and_stale_results_are_dropped():
    doc, applied, ran = FakeServerDoc(), [], []

    def job(name):
        def run():
            ran.append(name)
            return name
        return run

    runner = Runner(doc)
    runner.submit(job("a"), applied.append, applied.append)
    runner.submit(job("b"), applied.append, applied.append)  # superseded by c before it runs
    runner.submit(job("c"), applied.append, applied.append)
    asyncio.run(drain(doc))
    assert ran == ["a", "c"]
    assert applied == ["c"]  # a's result arrived after c was asked for: not shown


def test_failures_go_to_the_fail_callback_and_the_runner_recovers():
    doc, applied, failed = FakeServerDoc(), [], []

    def boom():
        raise ValueError("wl=99 is out of range")

    runner = Runner(doc)
    runner.submit(boom, applied.append, failed.append)
    asyncio.run(drain(doc))
    assert [str(e) for e in failed] == ["wl=99 is out of range"] and applied == []
    runner.submit(lambda: 7, applied.append, failed.append)
    asyncio.run(drain(doc))
    assert applied == [7]


def test_without_a_server_the_job_runs_in_place():
    class PlainDoc:
        session_context = None

    applied = []
    Runner(PlainDoc()).submit(lambda: 3, applied.append, applied.append)
    assert applied == [3]
