"""Weight sharing (Han et al. 2016, sec. 3): per-layer k-means on the weights, centroid
fine-tuning, and Hessian-weighted k-means (Choi et al. 2017).

A shared layer stores, per weight, the index of its cluster, and the table of ``k`` centroids
once.  Pruned weights (exact zeros) are not clustered: when a layer has any, one of its ``k``
codebook entries is the value 0 (the filler zeros of the sparse format need it), so ``k - 1``
clusters are fitted to the non-zero weights and indices stay ``ceil(log2 k)`` bits.

Fine-tuning (Han et al. 2016, fig. 3): the gradient of every weight is summed over its cluster
and the centroid moves by ``-lr * sum``; the zero entry never moves, so pruned weights stay
pruned.  Centroids are kept in float64 and the deployed weights are their float32 values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.compress._common import check_int, check_model, per_layer, prunable_layers
from models.compress.report import FLOAT_BITS, CompressionReport, LayerCompression
from models.methods.base import TrainingMethod
from precision.codebook import INITS, Codebook, kmeans_codebook
from precision.qarray import QArray


@dataclass(frozen=True, eq=False)
class SharedLayer:
    """One layer's sharing: ``codes`` (int64, weight-shaped) index ``centroids`` (float64,
    ascending); ``zero_code`` is the index of the 0 entry (-1 when the layer has none)."""

    codes: np.ndarray
    centroids: np.ndarray
    zero_code: int

    @property
    def k(self) -> int:
        return int(self.centroids.size)

    def codebook(self) -> QArray:
        """The codes as a ``precision.Codebook`` QArray (centroids as float32 values, so that
        dequantizing gives exactly the deployed float32 weights)."""
        values = self.centroids.astype(np.float32).astype(np.float64)
        fmt = Codebook(tuple(values))
        return QArray(codes=self.codes.astype(fmt.code_dtype), format=fmt, scale=1.0)

    def weights(self, dtype=np.float32) -> np.ndarray:
        return self.centroids.astype(dtype)[self.codes]


def _check_clusters(name, value) -> int:
    return check_int(name, value, 1)


def _canonical(codes: np.ndarray, centroids: np.ndarray, zero_code: int) -> SharedLayer:
    """Drop centroids no weight uses (k-means keeps empty clusters), sort the rest ascending,
    merge equal ones, and renumber the codes to match."""
    used = np.unique(codes)
    remap = np.full(centroids.size, -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    codes, centroids = remap[codes], centroids[used]
    zero_code = int(remap[zero_code]) if zero_code >= 0 else -1
    values, inverse = np.unique(centroids, return_inverse=True)
    new_codes = inverse.ravel()[codes]
    new_zero = int(inverse.ravel()[zero_code]) if zero_code >= 0 else -1
    return SharedLayer(codes=new_codes.astype(np.int64), centroids=values, zero_code=new_zero)


def cluster_layer(weight: np.ndarray, k: int, *, init: str = "linear", seed=None,
                  hessian: np.ndarray | None = None, name: str = "layer") -> SharedLayer:
    """Cluster one weight tensor into ``k`` shared values (one of them 0 when it has zeros)."""
    w = np.asarray(weight, dtype=np.float64)
    nonzero = w != 0
    n_nz = int(nonzero.sum())
    has_zero = n_nz < w.size
    fitted = k - 1 if has_zero else k
    if n_nz == 0:
        raise ValueError(f"layer {name!r} has no non-zero weights to share")
    if fitted < 1:
        raise ValueError(f"clusters={k} leaves no cluster for the {n_nz} non-zero weights of the "
                         f"pruned layer {name!r} (one entry is the zero); expected clusters >= 2")
    if fitted > n_nz:
        raise ValueError(f"clusters={k} is more than the {n_nz} non-zero weights of layer "
                         f"{name!r}; expected clusters <= {n_nz + int(has_zero)}")
    values = w[nonzero]
    weights = None if hessian is None else np.asarray(hessian, dtype=np.float64)[nonzero]
    cb = kmeans_codebook(values, fitted, init=init, seed=seed, weights=weights)
    centroids = np.asarray(cb.centroids)
    codes = np.zeros(w.shape, dtype=np.int64)
    codes[nonzero] = cb.quantize(values).codes
    zero_code = -1
    if has_zero:
        zero_code = centroids.size
        centroids = np.append(centroids, 0.0)
        codes[~nonzero] = zero_code
    return _canonical(codes, centroids, zero_code)


def shared_row(layer, shared: SharedLayer, index_bits: int) -> LayerCompression:
    """Storage of a shared layer: sparse entries of ``cluster_bits`` + ``index_bits`` bits when
    the layer is pruned (dense indices when that is smaller), plus the float32 codebook."""
    from precision.sparse import encode_sparse

    fmt = shared.codebook().format
    n = int(shared.codes.size)
    mask = shared.codes != shared.zero_code if shared.zero_code >= 0 else np.ones(n, bool)
    table = fmt.k * FLOAT_BITS
    bias = layer.params().get("bias")
    entries, ibits = n, 0
    stored = n * fmt.index_bits
    if shared.zero_code >= 0:
        enc = encode_sparse(mask.astype(np.int8), index_bits)
        sparse = enc.n_entries * (index_bits + fmt.index_bits)
        if sparse < stored:
            entries, ibits, stored = enc.n_entries, index_bits, sparse
    return LayerCompression(layer=layer.name, original_weights=n, weights=n,
                            nonzeros=int(mask.sum()), index_bits=ibits, clusters=fmt.k,
                            cluster_bits=fmt.index_bits, value_bits=fmt.index_bits,
                            entries=entries, stored_bits=stored + table,
                            bias_bits=0 if bias is None else int(bias.size) * FLOAT_BITS)


def share_weights(model, clusters, *, init: str = "linear", seed: int = 0, layers=None,
                  hessian: dict[str, np.ndarray] | None = None,
                  index_bits: int | None = None) -> tuple:
    """Replace each layer's weights by the nearest of ``clusters`` shared values (k-means).

    ``clusters``: codebook size k per layer (an int, or ``{layer: k}``), counting the 0 entry
    of pruned layers.  ``init``: "linear" (Han et al.'s best), "density" or "random" (Forgy).
    ``hessian``: per-layer arrays of the Hessian diagonal (``obd.hessian_diagonal``) to
    weight each weight's pull on its centroid (Choi et al. 2017).  ``index_bits``: relative
    sparse index width (default 5 for dense, 8 for conv).  Returns ``(shared_copy, report)``;
    ``report.extra["shared"]`` maps layer names to :class:`SharedLayer`.
    """
    from models.compress._common import index_bits_for

    model = check_model(model).copy()
    if init not in INITS:
        raise ValueError(f"init={init!r} is not known; expected one of {INITS}")
    chosen = prunable_layers(model, layers)
    ks = per_layer("clusters", clusters, chosen, _check_clusters)
    shared, rows = {}, []
    for i, layer in enumerate(chosen):
        if layer.name not in ks:
            continue
        w = layer.params()["weight"]
        h = None if hessian is None else hessian.get(layer.name)
        sl = cluster_layer(w, ks[layer.name], init=init, seed=seed + i, hessian=h,
                           name=layer.name)
        w[...] = sl.weights(w.dtype)
        shared[layer.name] = sl
        rows.append(shared_row(layer, sl, index_bits or index_bits_for(layer)))
    report = CompressionReport(method="weight sharing", layers=tuple(rows),
                               settings={"clusters": clusters, "init": init, "seed": seed,
                                         "hessian": hessian is not None},
                               extra={"shared": shared})
    return model, report


class CentroidFineTuning(TrainingMethod):
    """Training that moves only the shared centroids (Han et al. 2016, sec. 3.1, fig. 3).

    Each step sums the weight gradients of every cluster (``np.bincount`` over the codes) and
    updates ``centroid -= centroid_lr * sum`` (the zero entry stays 0); the optimizer sees a
    zero weight gradient, so the latent weights never drift; biases train as usual.
    """

    name = "centroid-finetune"

    def __init__(self, shared: dict[str, SharedLayer], centroid_lr: float = 1e-4):
        super().__init__()
        if not centroid_lr > 0:
            raise ValueError(f"centroid_lr={centroid_lr} is out of range; expected > 0")
        self.centroid_lr = float(centroid_lr)
        self.codes = {k: v.codes for k, v in shared.items()}
        self.zero = {k: v.zero_code for k, v in shared.items()}
        self.centroids = {k: v.centroids.astype(np.float64).copy() for k, v in shared.items()}

    def forward_params(self, layer, training):
        if layer.name not in self.codes:
            return None
        p = dict(layer.params())
        p["weight"] = self.centroids[layer.name].astype(p["weight"].dtype)[self.codes[layer.name]]
        return p

    def param_grad(self, layer, name, grad):
        if name != "weight" or layer.name not in self.codes:
            return grad
        c = self.centroids[layer.name]
        total = np.bincount(self.codes[layer.name].ravel(), weights=grad.ravel().astype(np.float64),
                            minlength=c.size)
        if self.zero[layer.name] >= 0:
            total[self.zero[layer.name]] = 0.0
        c -= self.centroid_lr * total
        return np.zeros_like(grad)

    def shared(self) -> dict[str, SharedLayer]:
        """The fine-tuned sharing of every layer (centroids re-sorted, equal ones merged)."""
        return {k: _canonical(self.codes[k], self.centroids[k], self.zero[k])
                for k in self.codes}


def fine_tune_centroids(model, data, shared: dict[str, SharedLayer], *, epochs: int = 1,
                        seed: int = 0, centroid_lr: float = 1e-4, progress: bool = False,
                        **train_options) -> dict[str, SharedLayer]:
    """Fine-tune the centroids of ``model`` (in place) and return the new sharing; the model's
    weights end equal to ``shared[...].weights()`` of the returned sharing."""
    from models.train import train

    method = CentroidFineTuning(shared, centroid_lr=centroid_lr)
    train(model, data, method=method, epochs=epochs, seed=seed, progress=progress,
          **train_options)
    out = method.shared()
    for layer in model.layers:
        if layer.name in out:
            layer.params()["weight"][...] = out[layer.name].weights(layer.params()["weight"].dtype)
    return out
