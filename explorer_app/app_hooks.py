"""Server hooks: read the store once and compile the kernels when the server starts.

A store that cannot be opened stops the server with a readable message and exit status 2
(``bokeh serve`` and ``lowbit explore`` exit non-zero); a store that loads is shared,
read-only, by every session.  The kernels compile in a background thread so the page is
served at once; live-lab runs wait for it (their status says so).
"""

import importlib
import logging
import sys
import threading

from explorer_app import state

log = logging.getLogger("explorer_app")

# bokeh sets sys.argv to the app's --args only while this module runs
ARGV = list(sys.argv[1:])


def on_server_loaded(server_context):
    if len(ARGV) != 1:
        log.error("lowbit explorer: give one sweep store: bokeh serve explorer_app --args "
                  "OUT.zarr (got %d arguments)", len(ARGV))
        raise SystemExit(2)
    try:
        data = state.load(ARGV[0])
    except state.StoreError as exc:
        log.error("lowbit explorer: %s", exc)
        raise SystemExit(2) from None
    # import now, in this thread: a session importing these while the warm-up thread holds
    # their import locks would wait for the whole compile
    for module in ("lowbit.pareto", "lowbit.point", "precision", "simulator"):
        importlib.import_module(module)

    data.warm.clear()
    threading.Thread(target=_warmup, args=(data,), name="lowbit-warmup", daemon=True).start()


def _warmup(data):
    try:
        state.warmup(data)
        log.info("lowbit explorer: kernels compiled")
    except Exception:  # a failed warm-up only costs the first update its compile time
        log.exception("lowbit explorer: warm-up failed")
