"""``estimate_cost``: what a quantized network costs on a target, per layer and in total.

The model (every figure for the whole batch; docs/targets.md states it with its sources):

* **Layers.** Each dense/conv2d node is a layer; the activation-only nodes after it (relu, pool,
  flatten, add, sign) are fused into it, so a layer reads its input once and writes the output
  of its last fused node once.
* **Operands.** Weights in the layer's resolved ``weights`` format, activations in the format of
  the layer's input tensor (``QConfig.tensor_formats``); unquantized tensors are priced as fp32.
  The layer runs on the target's cheapest lane holding both (``Target.lane``); a target without
  one raises ``ValueError``.  Binary/ternary weights with float activations (BinaryConnect) are
  sign-select MACs: no multiply, one float add (``Target.mac_energy_pj``), on the float lane.
* **Compute energy** = ``MACs * mac_energy_pj(w, a, acc)`` + one accumulator-width add per
  output element for the bias.  ``acc`` is the layer's accumulator (the target's when unset).
* **Stored bytes.** Weights at their stored width (binary 1 bit, ternary 2 bits, fixed point
  its word length, floats 1+e+m); pruned layers (exact zeros) in Deep Compression's relative-
  index format when that is smaller (``precision.sparse``; 8-bit indices for conv, 5-bit for
  dense, Han et al. 2016, sec. 2; never for binary weights, which have no zero code); shared weights (``params["codebook"]``) as indices plus the
  codebook at the weight width; hashed layers (``params["real_weights"]``) as their real weights;
  dynamic fixed point adds one 8-bit exponent per group, scaled binary/ternary one fp32 α per
  tensor or output channel.  Biases at their format's width; an
  unset bias format means the accumulator's width for integer layers (the executor rounds such
  a bias onto the accumulator's grid), fp32 for float ones.  Activation bytes: the layer's stored
  output.
* **Memory energy.** Weights read once per batch from the nearest memory level that holds all
  the network's weights; each layer's input read and output written once per sample at the
  nearest level holding the largest per-sample input+output pair.
* **Cycles.** CPU/ASIC: ``max(ceil(MACs / macs_per_cycle), streaming cycles)`` -- a roofline
  whose memory side is the layer's weight and activation bytes at their levels' bandwidths
  (``bound`` says which side won) -- layers in sequence.  FPGA:
  one engine per layer with reuse factor R (``simulator.targets._allocation``); a layer's cycles
  are ``batch * ceil(macs / units)``; the total is the pipeline latency
  ``sum(per-sample cycles) + (batch - 1) * max(per-sample cycles)``.
* **FPGA resources.** DSP/LUT per MAC unit (``FpgaFabric.mac_unit``), BRAM/LUTRAM for the weight
  memories; a layer ``fits`` when it alone fits ``utilization`` of the device, the network when
  the sums do.  CPU/ASIC layers always fit (memory spills to DRAM, priced as such).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from simulator.targets import Target, get
from simulator.targets._allocation import LayerDemand, allocate, budget
from simulator.targets._operands import Operand, as_operand, float_operand

#: Relative-index width of sparse storage (Han et al., ICLR 2016, sec. 2: "8 bits for conv
#: layer and 5 bits for fc layer").
SPARSE_INDEX_BITS = {"conv2d": 8, "dense": 5}
FP32_BITS = 32
#: Bits of one shared exponent of a dynamic fixed-point group (assumption: one byte, like the
#: E8M0 shared scale of the OCP Microscaling (MX) formats, spec v1.0).
SCALE_BITS = 8

#: Units of every numeric figure (also the ``units`` attrs of ``Cost.to_dataset``).
UNITS = {"macs": "MAC", "energy_pj": "pJ", "compute_energy_pj": "pJ",
         "memory_energy_pj": "pJ", "cycles": "cycles", "latency_s": "s", "weight_bytes": "B",
         "activation_bytes": "B", "dsp": "DSP slices", "lut": "LUTs", "bram": "BRAM36 tiles",
         "fits": "1"}


@dataclass(frozen=True)
class LayerCost:
    """The cost of one layer (or the network, ``layer="total"``) for the whole batch."""

    layer: str
    op: str
    weights: str          # operand type of the weights ("int8", "int1", "fp32", ...)
    activations: str      # operand type of the layer's input
    lane: str             # the lane it runs on
    storage: str          # "dense", "sparse", "codebook", "codebook+sparse" or "hashed"
    macs: int
    energy_pj: float
    compute_energy_pj: float
    memory_energy_pj: float
    cycles: int
    latency_s: float
    bound: str            # "compute" or "memory": which side of the roofline set the cycles
    weight_bytes: int
    activation_bytes: int
    dsp: int
    lut: int
    bram: int
    fits: bool


@dataclass(frozen=True)
class Cost:
    """Per-layer :class:`LayerCost` records (``layers``) and their ``total``.

    ``reuse_factor`` is the FPGA reuse factor (None elsewhere); ``weight_level`` and
    ``activation_level`` name the memory levels the dataflow model priced.
    """

    target: str
    batch: int
    layers: tuple[LayerCost, ...]
    total: LayerCost
    weight_level: str
    activation_level: str
    reuse_factor: int | None = None
    peak_activation_bytes: int = 0

    def __getitem__(self, name: str) -> LayerCost:
        for rec in self.layers:
            if rec.layer == name:
                return rec
        raise KeyError(f"{name!r} is not a layer of this cost; layers: "
                       f"{', '.join(r.layer for r in self.layers)}")

    def to_dataset(self):
        """An ``xarray.Dataset`` with dimension ``layer`` (one variable per figure, ``units``
        and ``long_name`` in attrs), scalar ``total_*`` variables, and the model in attrs."""
        import xarray as xr

        names = [r.layer for r in self.layers]
        data = {}
        for f in fields(LayerCost):
            if f.name == "layer":
                continue
            values = [getattr(r, f.name) for r in self.layers]
            attrs = {"long_name": f.name.replace("_", " ")}
            if f.name in UNITS:
                attrs["units"] = UNITS[f.name]
                data[f"total_{f.name}"] = xr.Variable((), getattr(self.total, f.name),
                                                      {**attrs, "long_name": "network " +
                                                       attrs["long_name"]})
            data[f.name] = xr.Variable(("layer",), np.asarray(values), attrs)
        attrs = {"target": self.target, "batch": self.batch, "weight_level": self.weight_level,
                 "activation_level": self.activation_level,
                 "reuse_factor": -1 if self.reuse_factor is None else self.reuse_factor,
                 "peak_activation_bytes": self.peak_activation_bytes,
                 "cost_model": "lowbit simulator.cost (docs/targets.md)"}
        return xr.Dataset(data, coords={"layer": np.asarray(names, dtype=str)}, attrs=attrs)


def _bits(fmt) -> int:
    return as_operand(fmt).bits


def _acc_operand(cfg_acc, target: Target, w: Operand, a: Operand) -> Operand | None:
    """The accumulator to price adds at; None lets ``mac_energy_pj`` use the target's own.

    Targets priced at the lane (CPUs) add in their hardware accumulator whatever the simulated
    one is; custom datapaths (ASIC, FPGA) add at the layer's accumulator width."""
    if cfg_acc is None or target.arithmetic.energy_at == "lane":
        return None
    if cfg_acc.floating is not None:
        return float_operand(int(cfg_acc.floating.exp_bits), int(cfg_acc.floating.man_bits))
    if w.is_float or a.is_float:
        return None
    return as_operand(cfg_acc.width)


def _weight_storage(node, w_bits: int, fmt) -> tuple[int, str, int, int]:
    """(stored bits of the weights, scheme, words in the weight memory, bits per word).

    Pruned weights are the exact zeros of the float weights (as pruning leaves them); every
    format stores them as code 0 except binary (0 -> +1), which is never stored sparse."""
    weight = node.params["weight"]
    n = int(weight.size)
    if "real_weights" in node.params:
        real = int(node.params["real_weights"])
        if real < 0:
            raise ValueError(f"{node.name}: real_weights={real} is negative")
        return real * w_bits, "hashed", real, w_bits
    index_bits = SPARSE_INDEX_BITS[node.op]
    mask = weight != 0
    sparse_ok = getattr(fmt, "family", None) != "binary" and not bool(mask.all())
    if "codebook" in node.params:
        fmt = node.params["codebook"].format
        table = fmt.k * w_bits
        dense = n * fmt.index_bits
        best, scheme = dense, "codebook"
        if sparse_ok:
            from precision.sparse import sparse_storage_bits

            sparse = sparse_storage_bits(mask, index_bits, fmt.index_bits)
            if sparse < dense:
                best, scheme = sparse, "codebook+sparse"
        return best + table, scheme, n, fmt.index_bits
    dense = n * w_bits
    if sparse_ok:
        from precision.sparse import sparse_storage_bits

        sparse = sparse_storage_bits(mask, index_bits, w_bits)
        if sparse < dense:
            return sparse, "sparse", n, w_bits
    return dense, "dense", n, w_bits


def _scale_bits(fmt, shape: tuple[int, ...]) -> int:
    """Bits of the per-group scales stored with a weight tensor: one ``SCALE_BITS``-bit exponent
    per group of dynamic fixed point (``group="tensor"``, ``("axis", k)`` or ``("block", n)``
    along the last axis, docs/architecture.md); one fp32 ``α`` per tensor or per output channel
    for scaled binary/ternary weights (XNOR-Net, TWN); 0 otherwise."""
    family = getattr(fmt, "family", None)
    if family in ("binary", "ternary"):
        scale = getattr(fmt, "scale", None)
        return {None: 0, "tensor": FP32_BITS, "channel": shape[0] * FP32_BITS}[scale]
    if family != "dynamic_fixed":
        return 0
    group = getattr(fmt, "group", "tensor")
    if group == "tensor":
        n = 1
    elif isinstance(group, tuple) and len(group) == 2 and group[0] == "axis":
        n = shape[group[1]]
    elif isinstance(group, tuple) and len(group) == 2 and group[0] == "block":
        n = math.prod(shape[:-1]) * math.ceil(shape[-1] / group[1])
    else:
        raise ValueError(f"cannot price the scales of group={group!r}; expected 'tensor', "
                         "('axis', k) or ('block', n)")
    return n * SCALE_BITS


def _bias_bits(cfg, target: Target, w: Operand, a: Operand) -> int:
    """Stored bits of one bias: its format's; unset with integer operands, the accumulator
    width (the executor rounds such a bias onto the accumulator's grid); otherwise fp32."""
    if cfg.bias is not None:
        return _bits(cfg.bias)
    if w.is_float or a.is_float:
        return FP32_BITS
    acc = cfg.accumulator
    if acc is None:
        ar = target.arithmetic
        return as_operand(ar.accumulator_float).bits if ar.accumulator_float else \
            ar.accumulator_width
    return as_operand(acc.floating).bits if acc.floating is not None else acc.width


def _stream_cycles(nbytes: float, level, clock_hz: float) -> float:
    """Clock cycles to move ``nbytes`` at the level's bandwidth (0 when it has none)."""
    bw = level.bandwidth_bytes_per_s
    return 0.0 if bw is None else nbytes * clock_hz / bw


def _fused_outputs(graph) -> dict[str, str]:
    """Layer name -> the last node fused into it (its stored output)."""
    out, current = {}, None
    for node in graph.nodes:
        if node.op in ("dense", "conv2d"):
            current = node.name
            out[current] = current
        elif current is not None:
            out[current] = node.name
    return out


def _n_weights(node) -> int:
    return int(node.params["weight"].size)


def estimate_cost(graph, qconfig=None, target: str | Target = "cpu-int8", batch: int = 1, *,
                  reuse_factor: int | str = "auto") -> Cost:
    """Energy (pJ), cycles, latency (s), stored bytes and FPGA resources of running ``graph``
    under ``qconfig`` on ``target`` for ``batch`` samples (model: module docstring).

    ``qconfig=None`` means the target's native formats (``QConfig.for_target``).
    ``reuse_factor`` (FPGA only): an int R >= 1, or ``"auto"`` for the smallest R that fits.
    """
    from simulator.qconfig import QConfig

    tgt = get(target)
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)):
        raise TypeError(f"batch must be an int, got {type(batch).__name__} {batch!r}")
    if batch < 1:
        raise ValueError(f"batch={batch} is out of range; expected batch >= 1")
    batch = int(batch)
    if reuse_factor != "auto":
        if isinstance(reuse_factor, bool) or not isinstance(reuse_factor, (int, np.integer)):
            raise TypeError(f"reuse_factor must be an int or 'auto', got {reuse_factor!r}")
        if reuse_factor < 1:
            raise ValueError(f"reuse_factor={reuse_factor} is out of range; expected "
                             "reuse_factor >= 1 or 'auto'")
        reuse_factor = int(reuse_factor)
    if qconfig is None:
        qconfig = QConfig.for_target(tgt)
    elif not isinstance(qconfig, QConfig):
        raise TypeError(f"qconfig must be a QConfig or None, got {type(qconfig).__name__}")
    layers = graph.layers()
    if not layers:
        raise ValueError("the graph has no dense or conv2d layer to price")

    shapes, fmts = graph.shapes(), qconfig.tensor_formats(graph)
    macs_per_sample = graph.macs()
    fused = _fused_outputs(graph)
    rows = []
    for node in layers:
        cfg = qconfig.resolve(node.name)
        w, a = as_operand(cfg.weights), as_operand(fmts[node.inputs[0]])
        if not tgt.supports(w, a):
            raise ValueError(f"{node.name}: target {tgt.name!r} has no lane for {w.label} "
                             f"weights x {a.label} activations; native: "
                             f"{', '.join(tgt.native_widths)}")
        acc = _acc_operand(cfg.accumulator, tgt, w, a)
        w_stored, scheme, n_words, word_bits = _weight_storage(node, w.bits, cfg.weights)
        w_stored += _scale_bits(cfg.weights, node.params["weight"].shape)
        bias_bits = 0
        if node.bias is not None:
            bias_bits = int(node.bias.size) * _bias_bits(cfg, tgt, w, a)
        out_name = fused[node.name]
        in_elems = math.prod(shapes[node.inputs[0]])
        out_elems = math.prod(shapes[out_name])
        out_bits = _bits(fmts[out_name])
        rows.append(dict(
            node=node, w=w, a=a, acc=acc, scheme=scheme, n_words=n_words, word_bits=word_bits,
            macs=macs_per_sample[node.name],
            weight_bytes=math.ceil((w_stored + bias_bits) / 8),
            in_bytes=in_elems * a.bits / 8, out_bytes=out_elems * out_bits / 8,
            bias_adds=math.prod(shapes[node.name]) if node.bias is not None else 0,
        ))

    weight_level = tgt.level_for(sum(r["weight_bytes"] for r in rows))
    peak = max(r["in_bytes"] + r["out_bytes"] for r in rows)
    act_level = tgt.level_for(peak)

    allocs, reuse = None, None
    if tgt.fpga is not None:
        demands = [LayerDemand(_n_weights(r["node"]), r["macs"], r["w"], r["a"], r["n_words"],
                               r["word_bits"]) for r in rows]
        reuse, allocs = allocate(demands, tgt.fpga, tgt.arithmetic.multiplier, reuse_factor)
        limit = budget(tgt.fpga)

    records = []
    for i, r in enumerate(rows):
        node, w, a = r["node"], r["w"], r["a"]
        macs = r["macs"] * batch
        compute = macs * tgt.mac_energy_pj(w, a, r["acc"])
        if r["bias_adds"]:
            # The bias costs one accumulator add per output element: the same add as a MAC's.
            compute += batch * r["bias_adds"] * tgt.accumulate_energy_pj(w, a, r["acc"])
        memory = (r["weight_bytes"] * weight_level.pj_per_byte
                  + batch * (r["in_bytes"] + r["out_bytes"]) * act_level.pj_per_byte)
        if allocs is None:
            cycles = math.ceil(macs / tgt.macs_per_cycle(w, a))
            # Roofline: the layer cannot finish before its bytes have streamed in and out.
            memory_cycles = math.ceil(
                _stream_cycles(r["weight_bytes"], weight_level, tgt.clock_hz)
                + _stream_cycles(batch * (r["in_bytes"] + r["out_bytes"]), act_level,
                                 tgt.clock_hz))
            bound = "memory" if memory_cycles > cycles else "compute"
            cycles = max(cycles, memory_cycles)
            dsp = lut = bram = 0
            layer_fits = True
        else:
            al = allocs[i]
            cycles, dsp, lut, bram = batch * al.cycles, al.dsp, al.lut, al.bram
            bound = "compute"  # weights on chip, one word per MAC unit per clock
            layer_fits = dsp <= limit[0] and lut <= limit[1] and bram <= limit[2]
        records.append(LayerCost(
            layer=node.name, op=node.op, weights=w.label, activations=a.label,
            lane=tgt.lane(w, a).label, storage=r["scheme"], macs=macs,
            energy_pj=compute + memory, compute_energy_pj=compute, memory_energy_pj=memory,
            cycles=cycles, latency_s=cycles / tgt.clock_hz, bound=bound,
            weight_bytes=r["weight_bytes"],
            activation_bytes=math.ceil(batch * r["out_bytes"]), dsp=dsp, lut=lut, bram=bram,
            fits=layer_fits))

    if allocs is None:
        total_cycles = sum(rec.cycles for rec in records)
        net_fits = True
    else:
        per_sample = [al.cycles for al in allocs]
        total_cycles = sum(per_sample) + (batch - 1) * max(per_sample)
        net_fits = (sum(rec.dsp for rec in records) <= limit[0]
                    and sum(rec.lut for rec in records) <= limit[1]
                    and sum(rec.bram for rec in records) <= limit[2])

    def total_of(name):
        return sum(getattr(rec, name) for rec in records)

    total = LayerCost(
        layer="total", op="network", weights="", activations="", lane="", storage="",
        macs=total_of("macs"), energy_pj=total_of("energy_pj"),
        compute_energy_pj=total_of("compute_energy_pj"),
        memory_energy_pj=total_of("memory_energy_pj"), cycles=total_cycles,
        latency_s=total_cycles / tgt.clock_hz,
        bound="memory" if any(rec.bound == "memory" for rec in records) else "compute",
        weight_bytes=total_of("weight_bytes"),
        activation_bytes=total_of("activation_bytes"), dsp=total_of("dsp"), lut=total_of("lut"),
        bram=total_of("bram"), fits=net_fits and all(rec.fits for rec in records))
    return Cost(target=tgt.name, batch=batch, layers=tuple(records), total=total,
                weight_level=weight_level.name, activation_level=act_level.name,
                reuse_factor=reuse, peak_activation_bytes=math.ceil(peak))


__all__ = ["Cost", "LayerCost", "estimate_cost"]
