"""Heavy work off the document lock, one job per view at a time, the latest request winning.

Under a Bokeh server a job runs on ``state.EXECUTOR`` from a ``without_document_lock``
callback and its result is applied to the document in a next-tick callback (with the lock),
so the page stays responsive while the simulator runs.  Without a server (tests building the
document directly) the job runs in place.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from bokeh.document import without_document_lock

from explorer_app.state import EXECUTOR

log = logging.getLogger(__name__)


class Runner:
    """Runs ``job()`` then ``apply(result)`` (or ``fail(exc)``); requests made while a job is
    running are coalesced: only the newest runs next."""

    def __init__(self, doc):
        self.doc = doc
        self._busy = False
        self._pending = None

    def submit(self, job, apply, fail) -> None:
        if self.doc.session_context is None:
            self._run_in_place(job, apply, fail)
            return
        if self._busy:
            self._pending = (job, apply, fail)
            return
        self._busy = True
        self.doc.add_next_tick_callback(partial(self._work, job, apply, fail))

    @staticmethod
    def _run_in_place(job, apply, fail) -> None:
        try:
            result = job()
        except Exception as exc:  # shown in the page; the session keeps working
            fail(exc)
            return
        apply(result)

    @without_document_lock
    async def _work(self, job, apply, fail):
        try:
            result = await asyncio.wrap_future(EXECUTOR.submit(job))
        except Exception as exc:
            log.info("explorer job failed: %s", exc)
            self.doc.add_next_tick_callback(partial(self._finish, fail, exc))
            return
        self.doc.add_next_tick_callback(partial(self._finish, apply, result))

    def _finish(self, then, value) -> None:
        self._busy = False
        if self._pending is not None:  # a newer request supersedes this result
            job, apply, fail = self._pending
            self._pending = None
            self.submit(job, apply, fail)
            return
        then(value)
