"""The lowbit explorer: a Bokeh server app for the accuracy-cost trade-off of a sweep store.

Run it with ``lowbit explore OUT.zarr`` or ``bokeh serve explorer_app --args OUT.zarr``.
``state.py`` loads a store once per server; ``main.py`` builds one document per browser session
from the views in ``tradeoff.py``, ``filters.py``, ``livelab.py``, ``mixed.py`` and
``export.py``.  The app only calls the library: every figure comes from ``lowbit``,
``simulator`` and ``precision``.
"""
