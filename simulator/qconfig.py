"""Quantization configurations: which number format each tensor of each layer is stored in.

A :class:`LayerConfig` names the formats of a layer's ``weights``, ``bias`` and output
``activations`` and its ``accumulator``; ``None`` means "inherit".  A :class:`QConfig` holds a
``default`` LayerConfig, per-layer overrides and the format of the network ``input``.  After
resolution a format still ``None`` means "not quantized" (float64); an accumulator still
``None`` means "the target's accumulator".

Both classes are frozen and hashable, so a sweep can use them as keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterator, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from simulator.graph import Graph

#: Ops whose output keeps the format of their input (they move or clip codes, never round).
PASS_THROUGH_OPS = ("relu", "hardtanh", "maxpool2d", "flatten")
#: Ops whose output is requantized into the node's ``activations`` format.
REQUANTIZING_OPS = ("dense", "conv2d", "avgpool2d", "add", "batchnorm")
_ROLES = ("weights", "bias", "activations")


def as_format(role: str, value: Any, *, required: bool = False):
    """A number format from a format object or a spec string (``precision.get``).

    ``None`` passes through (it means "inherit" or "not quantized" to the caller) unless
    ``required``, when it is a ValueError.  ``role`` names the argument in the errors.  Also
    used by the training methods (models/methods/qat.py), so that a format given to a method
    and one given to a QConfig are read the same way.
    """
    if value is None:
        if required:
            raise ValueError(f"{role} is required: pass a precision format, e.g. "
                             f"{role}=FixedPoint(il=4, fl=12) or {role}='Q4.12'")
        return None
    from precision.base import NumberFormat

    if isinstance(value, str):
        import precision

        return precision.get(value)
    if not isinstance(value, NumberFormat):
        allowed = "a number format or a format spec string" + ("" if required else " or None")
        raise TypeError(f"{role} must be {allowed}, got {type(value).__name__} {value!r}")
    return value


def _as_accumulator(value: Any):
    if value is None:
        return None
    from simulator.accumulator import Accumulator

    if not isinstance(value, Accumulator):
        raise TypeError(f"accumulator must be an Accumulator or None, got "
                        f"{type(value).__name__} {value!r}")
    return value


@dataclass(frozen=True)
class LayerConfig:
    """Formats of one layer: ``weights``, ``bias``, output ``activations`` and ``accumulator``.

    Formats may be given as objects or spec strings (``"Q4.4"``, ``"ap_fixed<8,3>"``,
    ``"int8"``...; see ``precision.get``).  ``None`` inherits from the QConfig's default.
    """

    weights: Any = None
    bias: Any = None
    activations: Any = None
    accumulator: Any = None

    def __post_init__(self):
        for role in _ROLES:
            object.__setattr__(self, role, as_format(role, getattr(self, role)))
        object.__setattr__(self, "accumulator", _as_accumulator(self.accumulator))

    def merged(self, fallback: "LayerConfig") -> "LayerConfig":
        """This config with every ``None`` field taken from ``fallback``."""
        return LayerConfig(**{k: getattr(self, k) if getattr(self, k) is not None
                              else getattr(fallback, k) for k in (*_ROLES, "accumulator")})

    def formats(self) -> tuple:
        """The formats that are set (weights, bias, activations), without the accumulator."""
        return tuple(f for f in (self.weights, self.bias, self.activations) if f is not None)


class FrozenMap(Mapping):
    """An immutable, hashable ``{layer name: LayerConfig}`` mapping (insertion-ordered)."""

    __slots__ = ("_items", "_dict")

    def __init__(self, items: Mapping | None = None):
        d = dict(items or {})
        for k, v in d.items():
            if not isinstance(k, str):
                raise TypeError(f"layer names must be strings, got {k!r}")
            if not isinstance(v, LayerConfig):
                raise TypeError(f"layers[{k!r}] must be a LayerConfig, got {type(v).__name__}")
        self._dict = d
        self._items = tuple(sorted(d.items()))

    def __getitem__(self, key: str) -> LayerConfig:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._items == other._items
        return isinstance(other, Mapping) and dict(self._dict) == dict(other)

    def __repr__(self) -> str:
        return repr(self._dict)


@dataclass(frozen=True)
class QConfig:
    """The quantization of a whole network.

    ``resolve(name)`` gives the effective LayerConfig of a node: ``layers[name]`` with its
    ``None`` fields filled from ``default``.  ``input`` is the format the network input is
    quantized into; ``None`` uses the first node's resolved ``activations``.
    """

    default: LayerConfig = field(default_factory=LayerConfig)
    input: Any = None
    layers: Mapping[str, LayerConfig] = field(default_factory=FrozenMap)

    def __post_init__(self):
        if not isinstance(self.default, LayerConfig):
            raise TypeError(f"default must be a LayerConfig, got {type(self.default).__name__}")
        object.__setattr__(self, "input", as_format("input", self.input))
        if not isinstance(self.layers, FrozenMap):
            if not isinstance(self.layers, Mapping):
                raise TypeError(f"layers must be a mapping of layer name to LayerConfig, got "
                                f"{type(self.layers).__name__}")
            object.__setattr__(self, "layers", FrozenMap(self.layers))

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def uniform(cls, fmt, accumulator=None, *, weights=None, bias=None, activations=None,
                input=None) -> "QConfig":
        """Every tensor in ``fmt`` (keyword arguments override one role).

        ``accumulator=None`` uses the target's accumulator at simulate time.
        """
        fmt = as_format("fmt", fmt)
        return cls(default=LayerConfig(weights=weights or fmt, bias=bias or fmt,
                                       activations=activations or fmt,
                                       accumulator=accumulator), input=input)

    @classmethod
    def float(cls) -> "QConfig":
        """No quantization anywhere: ``simulate`` then equals ``simulate_float``."""
        return cls()

    @classmethod
    def for_target(cls, target) -> "QConfig":
        """The target's native formats (``Target.default_formats()``: weights, activations) and
        its accumulator; biases go onto the accumulator's grid (``bias=None``), as integer
        datapaths store them."""
        from simulator import targets

        t = targets.get(target) if isinstance(target, str) else target
        fmts = t.default_formats()
        return cls(default=LayerConfig(weights=fmts.get("weights"),
                                       activations=fmts.get("activations"),
                                       accumulator=fmts.get("accumulator", t.accumulator)))

    # -- queries ----------------------------------------------------------------------------
    def resolve(self, name: str) -> LayerConfig:
        """The effective config of node ``name`` (its overrides, then the default)."""
        own = self.layers.get(name)
        return self.default if own is None else own.merged(self.default)

    def with_layer(self, name: str, config: LayerConfig | None = None, **roles) -> "QConfig":
        """A copy with ``layers[name]`` replaced by ``config`` or updated with ``roles``."""
        base = config if config is not None else self.layers.get(name, LayerConfig())
        layers = dict(self.layers)
        layers[name] = replace(base, **roles) if roles else base
        return replace(self, layers=FrozenMap(layers))

    @property
    def is_float(self) -> bool:
        """True when no tensor is quantized."""
        return (self.input is None and not self.default.formats()
                and not any(c.formats() for c in self.layers.values()))

    def tensor_formats(self, graph: "Graph") -> dict[str, Any]:
        """The format of every node's output (and of ``"input"``); ``None`` means float64.

        relu, hardtanh, max pool and flatten keep their input's format; sign produces
        ``Binary()`` codes; every other op is requantized into its resolved ``activations``.
        """
        from simulator.graph import INPUT

        nodes = graph.nodes
        first = self.resolve(nodes[0].name).activations if nodes else None
        out = {INPUT: self.input if self.input is not None else first}
        for n in nodes:
            if n.op in PASS_THROUGH_OPS:
                out[n.name] = out[n.inputs[0]]
            elif n.op == "sign":
                from precision import Binary

                out[n.name] = Binary()
            else:
                out[n.name] = self.resolve(n.name).activations
        return out

    def check(self, graph: "Graph", target=None) -> None:
        """Raise ``ValueError`` when this config cannot run ``graph`` on ``target``.

        Refused: a layer name that is not a node of the graph; an integer accumulator narrower
        than one product of a dense/conv layer (``width < input bits + weight bits``); weight and
        activation formats whose product the target has no lane for (``Target.supports``).
        """
        for name in self.layers:
            if name not in graph:
                raise ValueError(f"qconfig.layers names {name!r}, which is not a node of the "
                                 f"graph; nodes: {', '.join(n.name for n in graph.nodes)}")
        fmts = self.tensor_formats(graph)
        for n in graph.nodes:
            if n.op not in ("dense", "conv2d"):
                continue
            cfg = self.resolve(n.name)
            a, w = fmts[n.inputs[0]], cfg.weights
            if a is None or w is None:
                continue  # a float operand: the layer runs on values
            if target is not None and not target.supports(operand(w), operand(a)):
                raise ValueError(
                    f"{n.name}: target {target.name!r} cannot multiply {w!r} weights by "
                    f"{a!r} activations; its native operands: "
                    f"{', '.join(target.native_widths)} (see QConfig.for_target)")
            acc = cfg.accumulator if cfg.accumulator is not None else getattr(
                target, "accumulator", None)
            if (acc is not None and not acc.is_floating and a.family != "float"
                    and w.family != "float" and acc.width < a.bits + w.bits):
                raise ValueError(
                    f"{n.name}: accumulator width={acc.width} is narrower than one product "
                    f"of {a.bits}-bit activations and {w.bits}-bit weights; expected "
                    f"width >= {a.bits + w.bits}")


def operand(fmt):
    """What the targets' cost models call a format: its width in bits, ``"binary"``,
    ``"ternary"``, or the float operand of a minifloat."""
    family = getattr(fmt, "family", "")
    if family == "float":
        from simulator.targets._operands import float_operand

        return float_operand(fmt.exp_bits, fmt.man_bits)
    if family in ("binary", "ternary"):
        return family
    return int(fmt.bits)
