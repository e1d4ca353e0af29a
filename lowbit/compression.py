"""The compression axes of a sweep: one compressed graph per distinct compression setting.

A *setting* is the point's values of the axes ``sparsity``, ``clusters`` and ``hash_compression``
(``lowbit.spec.COMPRESSION_AXES``), as a tuple of ``(axis, value)`` pairs in that order. Every
setting is computed once, before the points are scattered, from the trained model:

* ``sparsity`` s: ``models.compress.prune_magnitude`` zeroes the ``round(s * n)`` smallest
  weights of every dense/conv layer (Han et al. 2015); ``[compress] retrain_epochs = N`` then
  retrains N epochs with the masks held (``models.compress.retrain``, the spec's [train] lr,
  optimizer, batch size and schedule). ``s = 0`` leaves the model as trained.
* ``clusters`` k: ``models.compress.share_weights`` (linear-initialised k-means per layer, the
  zero of a pruned layer counting as one of the k entries; Han et al. 2016), exported by
  ``models.compress.compressed_graph`` so that the cost model stores indices plus codebook.
* ``hash_compression`` c: ``models.compress.hashed_like`` (HashedNets, Chen et al. 2015) then
  training with the spec's [train] table; the graph carries ``params["real_weights"]``.

The graph carries what ``simulator.cost`` prices: exact zeros (stored in relative-index sparse
form when smaller), ``params["codebook"]`` and ``params["real_weights"]``; ``model_bytes`` of a
point is therefore the compressed storage in the point's weight format. Models that need
training (hashing, masked retraining) are cached on disk like the zoo models
(``lowbit.inputs.cache_dir()``), keyed by everything that determines their weights.
"""

from __future__ import annotations

import hashlib
import itertools

from lowbit.spec import COMPRESSION_AXES, Spec


def setting_of(point: dict) -> tuple:
    """The compression setting of a point: ``((axis, value), ...)``; ``()`` for none."""
    return tuple((key, point[key]) for key in COMPRESSION_AXES if key in point)


def settings(spec: Spec) -> list[tuple]:
    """Every distinct compression setting of the spec's grid (``[()]`` when none is swept)."""
    swept = [(key, spec.axis(key)) for key in COMPRESSION_AXES if spec.axis(key) is not None]
    return [tuple(zip([k for k, _ in swept], combo))
            for combo in itertools.product(*(values for _, values in swept))]


def compressed_graphs(spec: Spec, blob: bytes, data, *, progress=False) -> dict:
    """``{setting: simulator.Graph or error text}`` for every compression setting of ``spec``.

    ``data`` is the ``models`` Dataset (its training split retrains and trains hashed models).
    A setting the library refuses (e.g. more clusters than a layer has weights) maps to the
    error text, which every point of that setting then reports in the sweep's ``error``.
    """
    out = {}
    for setting in settings(spec):
        if not setting:
            continue
        try:
            out[setting] = compressed_graph(spec, blob, data, dict(setting), progress=progress)
        except (ValueError, TypeError) as exc:
            out[setting] = f"{type(exc).__name__}: {exc}"
    return out


def compressed_graph(spec: Spec, blob: bytes, data, setting: dict, *, progress=False):
    """The simulator graph of the trained model ``blob`` compressed as ``setting`` says."""
    from lowbit.inputs import load_model
    from models import compress

    options = spec.compress_kwargs
    model = load_model(blob)
    if "hash_compression" in setting:
        model = _cached(spec, blob, data, tuple(setting.items()), lambda: _hashed(spec, model, data, setting,
                                                                   progress))
        return compress.hashed_graph(model)
    sparsity = setting.get("sparsity", 0.0)
    if sparsity > 0:
        if options["retrain_epochs"]:
            model = _cached(spec, blob, data, (("sparsity", sparsity),),
                            lambda: _pruned_retrained(spec, model, data, sparsity, progress))
        else:
            model, _ = compress.prune_magnitude(model, sparsity)
    if "clusters" in setting:
        model, report = compress.share_weights(model, setting["clusters"],
                                               seed=options["seed"])
        return compress.compressed_graph(model, report)
    return model.to_graph()


def _train_options(spec: Spec) -> dict:
    """The [train] options a retraining reuses (not its epochs, seed or method)."""
    return {k: v for k, v in spec.train_kwargs.items()
            if k in ("batch_size", "lr", "optimizer", "schedule")}


def _pruned_retrained(spec, model, data, sparsity, progress):
    from models import compress

    pruned, report = compress.prune_magnitude(model, sparsity)
    options = spec.compress_kwargs
    compress.retrain(pruned, data, report.extra["masks"], epochs=options["retrain_epochs"],
                     seed=options["seed"], progress=progress, **_train_options(spec))
    return pruned


def _hashed(spec, model, data, setting, progress):
    from models import compress, train

    hashed, _ = compress.hashed_like(model, setting["hash_compression"],
                                     seed=spec.compress_kwargs["seed"])
    train(hashed, data, progress=progress, **spec.train_kwargs)
    return hashed


def _cached(spec: Spec, blob: bytes, data, setting: tuple, make):
    """``make()``'s model, trained once per ``setting`` (``((axis, value), ...)``) and kept in
    the model cache."""
    from lowbit import __version__
    from lowbit.inputs import arrays_sha256, cache_dir, load_model

    key = hashlib.sha256(repr((arrays_sha256(blob), setting, data.name, data.sha256,
                               sorted(spec.train), sorted(spec.compress_kwargs.items()),
                               __version__)).encode()).hexdigest()[:20]
    path = cache_dir() / "models" / f"compressed-{key}.npz"
    if path.is_file():
        return load_model(path.read_bytes())
    model = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)  # written beside it and renamed: never seen half-written
    return model
