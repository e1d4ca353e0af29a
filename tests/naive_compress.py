"""Exact references for compression (Python ints only). Re-exported by tests/naive.py."""

from __future__ import annotations

from collections import Counter


def naive_huffman_cost(stream) -> int:
    """Total payload bits of an optimal prefix code for ``stream`` (sum of all merge weights).

    Independent of the library: the cost of every optimal code is the same, whatever the tie
    breaks, and equals the sum of the weights of the internal nodes of the Huffman tree.
    """
    weights = sorted(Counter(int(v) for v in stream).values())
    if len(weights) == 1:
        return weights[0]  # one symbol: one bit each
    total = 0
    while len(weights) > 1:
        a, b = weights.pop(0), weights.pop(0)
        total += a + b
        weights.append(a + b)
        weights.sort()
    return total


def naive_prefix_decode(bits: str, code_of: dict[int, str]) -> list[int]:
    """Decode a '0'/'1' string with a prefix code table by trying every code word."""
    inverse = {c: s for s, c in code_of.items()}
    out, word = [], ""
    for b in bits:
        word += b
        if word in inverse:
            out.append(inverse[word])
            word = ""
    return out


def naive_nearest_centroid(x: float, centroids) -> int:
    """Index of the nearest centroid; a value on a float64 boundary goes to the lower one."""
    index = 0
    for j in range(len(centroids) - 1):
        boundary = centroids[j] + (centroids[j + 1] - centroids[j]) / 2
        if x > boundary:
            index = j + 1
    return index


def naive_lloyd_1d(values, centroids, weights=None, max_iter=100):
    """Plain weighted Lloyd iterations with the same assignment rule (lists of floats)."""
    weights = weights or [1.0] * len(values)
    centroids = sorted(set(centroids))
    assign = None
    for _ in range(max_iter):
        centroids = sorted(set(centroids))
        new = [naive_nearest_centroid(v, centroids) for v in values]
        if new == assign:
            break
        assign = new
        for j in range(len(centroids)):
            members = [(v, w) for v, w, a in zip(values, weights, assign) if a == j]
            mass = sum(w for _, w in members)
            if mass > 0:
                centroids[j] = sum(w * v for v, w in members) / mass
    return sorted(set(centroids))


def naive_sparse_entries(values, index_bits):
    """(gap, value) entries of the relative-index format, fillers included, in plain Python."""
    span = 2**index_bits
    entries, prev = [], -1
    for p, v in enumerate(values):
        if v == 0:
            continue
        while p - prev > span:
            prev += span
            entries.append((span, 0))
        entries.append((p - prev, v))
        prev = p
    return entries


def naive_lecun_hessian_diagonal(model, x):
    """LeCun et al.'s (1990) Gauss-Newton Hessian diagonal, written connection by connection.

    Every dense and conv layer is unrolled into its explicit list of connections
    ``(output unit, input unit, weight index)`` (for a conv, one per kernel tap, output
    position and group channel inside the padded image); the forward pass and the recursion
    ``d2[in] += W[k]^2 d2[out]``, ``h[k] += x[in]^2 d2[out]`` run over that list in Python
    floats.  Pools route or scale per window, ReLU/HardTanh mask, batch norm uses its running
    statistics.  Independent of the library's im2col, GEMMs and backward passes.  Returns
    ``{layer name: h (weight-shaped float64 array)}`` averaged over the samples.
    """
    import math

    import numpy as np

    def connections(layer, in_shape):
        p = {k: v.astype(np.float64) for k, v in layer.params().items()}
        w = p["weight"]
        if layer.kind == "dense":
            o_n, i_n = w.shape
            conns = [(o, i, (o, i)) for o in range(o_n) for i in range(i_n)]
            return conns, (o_n,), w, p.get("bias")
        c_in, h_in, w_in = in_shape
        (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
        (ph, pw), (dh, dw) = layer.padding, layer.dilation
        ho = (h_in + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        wo = (w_in + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        og, cg = layer.out_channels // layer.groups, c_in // layer.groups
        conns = []
        for o in range(layer.out_channels):
            g = o // og
            for r in range(ho):
                for s in range(wo):
                    out_index = (o * ho + r) * wo + s
                    for c in range(cg):
                        for i in range(kh):
                            for j in range(kw):
                                row, col = r * sh + i * dh - ph, s * sw + j * dw - pw
                                if 0 <= row < h_in and 0 <= col < w_in:
                                    in_index = ((g * cg + c) * h_in + row) * w_in + col
                                    conns.append((out_index, in_index, (o, c, i, j)))
        bias = p.get("bias")
        if bias is not None:
            bias = np.repeat(bias, ho * wo)
        return conns, (layer.out_channels, ho, wo), w, bias

    def windows(layer, shape):
        c, h, w = shape
        (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
        ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
        wins = []
        for ch in range(c):
            for r in range(ho):
                for s in range(wo):
                    wins.append([(ch * h + r * sh + i) * w + s * sw + j
                                 for i in range(kh) for j in range(kw)])
        return wins, (c, ho, wo)

    out = {}
    for xn in np.asarray(x, dtype=np.float64):
        shape, v = tuple(xn.shape), [float(a) for a in xn.ravel()]
        tape = []  # per layer: (kind, data needed by the backward sweep)
        for layer in model.layers:
            if layer.kind in ("dense", "conv"):
                conns, new_shape, w, bias = connections(layer, shape)
                a = [0.0] * math.prod(new_shape) if bias is None else [float(b) for b in bias]
                for o, i, k in conns:
                    a[o] += float(w[k]) * v[i]
                tape.append(("linear", (layer, conns, w, v)))
                v, shape = a, new_shape
            elif layer.kind == "relu":
                tape.append(("mask", [float(a > 0) for a in v]))
                v = [max(a, 0.0) for a in v]
            elif layer.kind == "hardtanh":
                tape.append(("mask", [float(abs(a) <= 1) for a in v]))
                v = [min(max(a, -1.0), 1.0) for a in v]
            elif layer.kind in ("maxpool", "avgpool"):
                wins, shape_out = windows(layer, shape)
                if layer.kind == "maxpool":
                    # first maximum in window order, as a strict '>' scan finds it
                    arg = [max(win, key=lambda q: (v[q], -win.index(q))) for win in wins]
                    tape.append(("route", (len(v), arg)))
                    v = [v[q] for q in arg]
                else:
                    tape.append(("average", (len(v), wins)))
                    v = [sum(v[q] for q in win) / len(win) for win in wins]
                shape = shape_out
            elif layer.kind == "batchnorm":
                p = layer.params()
                mean, var = layer.buffers()["running_mean"], layer.buffers()["running_var"]
                per = math.prod(shape[1:])
                scale = [float(p["gamma"][q // per]) / math.sqrt(float(var[q // per]) + layer.eps)
                         for q in range(len(v))]
                tape.append(("mask", [s * s for s in scale]))
                v = [s * (a - float(mean[q // per])) + float(p["beta"][q // per])
                     for q, (s, a) in enumerate(zip(scale, v))]
            elif layer.kind in ("flatten", "dropout"):
                shape = (len(v),) if layer.kind == "flatten" else shape
            else:
                raise NotImplementedError(layer.kind)
        top = max(v)
        e = [math.exp(a - top) for a in v]
        d2 = [q / sum(e) * (1 - q / sum(e)) for q in e]
        for kind, data in reversed(tape):
            if kind == "linear":
                layer, conns, w, inp = data
                h = out.setdefault(layer.name, np.zeros(w.shape))
                below = [0.0] * len(inp)
                for o, i, k in conns:
                    h[k] += inp[i] ** 2 * d2[o]
                    below[i] += float(w[k]) ** 2 * d2[o]
                d2 = below
            elif kind == "mask":
                d2 = [a * m for a, m in zip(d2, data)]
            elif kind == "route":
                n_in, arg = data
                below = [0.0] * n_in
                for a, q in zip(d2, arg):
                    below[q] += a
                d2 = below
            elif kind == "average":
                n_in, wins = data
                below = [0.0] * n_in
                for a, win in zip(d2, wins):
                    for q in win:
                        below[q] += a / len(win) ** 2
                d2 = below
    return {k: v / len(x) for k, v in out.items()}
