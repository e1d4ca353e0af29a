"""The hook interface between the training loop (``models.train``) and a training method.

A training method changes *what the forward pass computes with* and *what the optimizer is fed*,
never the loop itself.  ``models.train.train`` drives one instance per run, in this order::

    method = cls(fmt=fmt, **method_options)      # validate options here (ValueError/TypeError)
    method.setup(model, rng)                     # once; rng is seeded from train(seed=...)
    if method.warmup_epochs:                     # optional warm-up (0 by default)
        # the same steps and hooks for warmup_epochs epochs (own shuffling), then parameters,
        # buffers and optimizer state restored, dropout reseeded, the step count back at 0:
        attrs = method.end_warmup(model)         # -> extra attrs of the history
    for epoch ...:
        for step, batch ...:                     # step counts from 0 across epochs
            method.begin_step(step)
            # forward (model.forward(x, training=True, hooks=method)):
            #     x = method.input(x, training=True)                # the network input
            # then layer i = 0 .. L-1:
            #     p = method.forward_params(layer, training=True)   # only layers with params
            #     x = layer.forward(x, training=True, params=p)
            #     x = method.activation(i, x, training=True)
            # loss = mean softmax cross-entropy of x; g = dloss/dlogits
            # backward, layer i = L-1 .. f (model.backward(g, hooks=method, input_grad=False)),
            # f = the first layer with parameters (nothing below it needs a gradient):
            #     g = method.error(i, g)        # gradient w.r.t. layer i's (hooked) output
            #     g = layer.backward(g, input_grad=i > f)
            # for each layer with params, for each name:
            #     grad = method.param_grad(layer, name, layer.grads()[name])
            # optimizer updates the latent arrays layer.params()[name] in place
            # for each layer with params: method.after_update(layer)
            method.end_step(step)
        # validation: model.forward(x_val, training=False, hooks=method) (same hooks, no updates)
    method.finalize(model)                       # once, after the last epoch

Contracts of the hooks (the base class implements each as the identity, i.e. float training):

``setup(model, rng)``
    Called once before the first step.  ``rng`` is a ``numpy.random.Generator`` derived from the
    train seed (independent of the shuffling and dropout streams): draw any per-step stochastic
    rounding seeds from it so a run is reproducible for a seed.
``warmup_epochs`` (attribute) / ``end_warmup(model) -> dict``
    A method with ``warmup_epochs = N > 0`` gets N epochs of training before the real ones,
    through the same hooks, from which only what the method itself keeps survives: the loop
    then restores every parameter and buffer bit for bit, resets the optimizer state and
    calls ``end_warmup`` on the restored model (dynamic fixed point measures its scales in a
    high-precision warm-up, Courbariaux et al. 2014).  The hooks tell the two phases apart
    by themselves (``setup`` knows ``warmup_epochs``; ``end_warmup`` starts the real
    training).  ``end_warmup`` returns attrs for the history (JSON-able or numbers), ``{}``
    by default.
``begin_step(step)`` / ``end_step(step)``
    Called around every optimizer step; ``step`` is the global step index (0, 1, ...).
    ``end_step`` is where dynamic fixed point updates its scales (Courbariaux et al. 2014).
``forward_params(layer, training) -> dict | None``
    Called for every layer that has parameters, at every forward pass (training and validation,
    and model.predict while ``model.hooks`` is this method).  Return a dict with the same keys as
    ``layer.params()`` holding the arrays the forward pass must use (binarized weights,
    fake-quantized weights, ...), or None for the latent arrays.  Never modify
    ``layer.params()`` here: the latent arrays are what the optimizer updates.  The gradients
    ``backward`` stores are with respect to the returned arrays (the straight-through
    estimator: they are applied to the latent arrays unchanged unless ``param_grad`` says
    otherwise).
``input(x, training) -> x``
    Called on the network input at every forward pass (training, validation, and
    ``model.predict`` while ``model.hooks`` is this method), before the first layer.  Quantize
    the input here when the exported ``qconfig`` quantizes it (``QConfig.input``), so that the
    training forward equals ``simulator.simulate`` also when the first layer has parameters
    (CNNs).  No gradient flows through it (nothing below the first layer needs one).
``activation(layer_index, x, training) -> x``
    Called on the output of every layer (index into ``model.layers``).  Quantize activations
    here.  Its backward is the identity (straight through); use ``error`` to change it.
``error(layer_index, g) -> g``
    Called on the gradient with respect to layer ``layer_index``'s output before that layer's
    backward: quantize back-propagated errors (Gupta et al. 2015) or mask a straight-through
    estimator here.  ``g`` has the shape of the layer's output.  Not called for the layers
    below the first layer with parameters (their gradients are never computed).
``param_grad(layer, name, grad) -> grad``
    Called on each parameter gradient before the optimizer sees it: gradient quantization,
    the ``|w| <= 1`` STE mask, per-layer learning-rate scaling (BinaryConnect).
``after_update(layer)``
    Called after the optimizer changed ``layer.params()`` in place: clip latent weights
    (BinaryConnect clips to [-1, 1]) or quantize the updated parameters (Gupta's fixed-point
    parameters).  Modify the arrays in place (``arr[...] = ...``): optimizers keep references.
``finalize(model)``
    Called once after training.  The default bakes the deployed parameters into the model:
    every layer's params are overwritten with ``forward_params(layer, training=False)`` (when
    not None), ``model.qconfig = self.qconfig(model)`` and ``model.hooks = self.inference_hooks()``
    (None by default, so ``model.predict`` then runs a plain float forward on the deployed
    parameters).  A method whose inference forward needs more than its parameters (quantized
    activations) returns ``self`` from ``inference_hooks`` so ``model.predict`` keeps applying
    ``forward_params``/``activation``; ``forward_params`` must then be idempotent on the baked
    arrays.
``qconfig(model) -> simulator.QConfig | None``
    The simulator configuration that reproduces the trained model's inference forward pass
    (``simulator.simulate(model.to_graph(), qconfig, x)`` gives ``model.predict(x)``).  None for
    float models.

Model files (``Sequential.save``/``load``) store the method that trained a model: its name,
``options()`` (the constructor arguments, formats as ``precision.get`` spec strings) and
``inference_state()``; ``load`` rebuilds it with ``restore(model, state)``:

``options() -> dict``
    The keyword arguments the method was constructed with, JSON-able (recorded generically at
    construction; see ``encode_option``).  ``type(m)(**decode_options(m.options()))`` builds an
    equal method.
``inference_state() -> dict`` / ``load_inference_state(state)``
    Learned state the inference hooks need beyond the options and what ``setup`` derives from
    the model (e.g. scales chosen during training), JSON-able.  The default is none (``{}``).
``restore(model, state)``
    Re-attach the method to a trained model: ``setup`` with the model's parameters and
    buffers kept bit for bit, ``load_inference_state(state)``, then ``model.qconfig``,
    ``model.hooks`` and ``model.method`` as ``finalize`` sets them.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, ClassVar

import numpy as np


class TrainingMethod:
    """Base class of training methods: every hook is the identity (plain float training).

    Subclasses set ``name`` and ``accepts_fmt``, accept their options as keyword arguments in
    ``__init__`` (rejecting unknown ones with TypeError) and override the hooks they need.
    """

    #: The name ``train(method=...)`` uses (set by ``register``).
    name: ClassVar[str] = ""
    #: Whether ``fmt=`` is meaningful for this method (False: passing one is a ValueError).
    accepts_fmt: ClassVar[bool] = False
    #: Epochs of warm-up ``train`` runs before the training proper (module docstring).
    warmup_epochs: int = 0

    def __new__(cls, *args, **kwargs):
        # Record the constructor arguments of every subclass for ``options()`` (model files),
        # without each subclass repeating its own argument list.
        self = super().__new__(cls)
        self._constructor_args = (args, kwargs)
        return self

    def __init__(self, fmt: Any = None, **options):
        if options:
            raise TypeError(f"method {self.name!r} got unknown options {sorted(options)}")
        if fmt is not None and not self.accepts_fmt:
            raise ValueError(f"method {self.name!r} takes no fmt, got fmt={fmt!r}")
        self.fmt = fmt

    # ------------------------------------------------------------------ lifecycle
    def setup(self, model, rng: np.random.Generator) -> None:
        """Prepare per-layer state before the first step."""

    def begin_step(self, step: int) -> None:
        """Before the forward pass of global step ``step``."""

    def end_step(self, step: int) -> None:
        """After the optimizer update of global step ``step``."""

    def end_warmup(self, model) -> dict:
        """After the warm-up (``warmup_epochs > 0``): ``model`` holds its initial parameters
        again; returns attrs for the training history."""
        return {}

    def finalize(self, model) -> None:
        """Bake the deployed parameters into ``model`` and set ``model.qconfig``/``hooks``."""
        for layer in model.layers:
            if not layer.params():
                continue
            deployed = self.forward_params(layer, False)
            if deployed is not None:
                for key, value in deployed.items():
                    layer.params()[key][...] = value
        model.qconfig = self.qconfig(model)
        model.hooks = self.inference_hooks()
        model.method = self

    # ------------------------------------------------------------------ model files
    def options(self) -> dict:
        """The constructor's keyword arguments as JSON-able values (``encode_option``)."""
        args, kwargs = getattr(self, "_constructor_args", ((), {}))
        bound = inspect.signature(type(self).__init__).bind(self, *args, **kwargs)
        out = {}
        for name, value in list(bound.arguments.items())[1:]:
            if bound.signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                out.update({k: encode_option(f"{name}.{k}", v) for k, v in value.items()})
            else:
                out[name] = encode_option(name, value)
        return out

    def inference_state(self) -> dict:
        """Learned state the inference hooks need beyond options and ``setup`` (none)."""
        return {}

    def load_inference_state(self, state: dict) -> None:
        """Set what ``inference_state`` returned (the default has no state to set)."""
        if state:
            raise ValueError(f"method {self.name!r} keeps no inference state, got keys "
                             f"{sorted(state)}")

    def restore(self, model, state: dict | None = None) -> None:
        """Re-attach this method to the trained ``model`` (module docstring): its parameters
        and buffers stay exactly as they are."""
        kept = [(store, key, value.copy()) for layer in model.layers
                for store in (layer.params(), layer.buffers()) for key, value in store.items()]
        self.setup(model, np.random.default_rng(0))
        for store, key, value in kept:
            store[key] = value
        self.load_inference_state(state or {})
        model.qconfig = self.qconfig(model)
        model.hooks = self.inference_hooks()
        model.method = self

    # ------------------------------------------------------------------ forward
    def forward_params(self, layer, training: bool) -> dict | None:
        """The arrays the forward pass of ``layer`` uses (None: the latent params)."""
        return None

    def input(self, x: np.ndarray, training: bool) -> np.ndarray:
        """The network input as the first layer sees it."""
        return x

    def activation(self, layer_index: int, x: np.ndarray, training: bool) -> np.ndarray:
        """Layer ``layer_index``'s output as the next layer sees it."""
        return x

    # ------------------------------------------------------------------ backward
    def error(self, layer_index: int, g: np.ndarray) -> np.ndarray:
        """The gradient w.r.t. layer ``layer_index``'s output, before its backward."""
        return g

    def param_grad(self, layer, name: str, grad: np.ndarray) -> np.ndarray:
        """The gradient the optimizer applies to ``layer.params()[name]``."""
        return grad

    def after_update(self, layer) -> None:
        """After the optimizer updated ``layer.params()`` in place."""

    # ------------------------------------------------------------------ export
    def qconfig(self, model):
        """The simulator QConfig reproducing the inference forward pass (None: float)."""
        return

    def inference_hooks(self):
        """What ``model.hooks`` becomes after ``finalize`` (None: plain float forward)."""
        return

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fmt={self.fmt!r})"


class FloatTraining(TrainingMethod):
    """Plain float32 training: every hook is the identity."""

    name = "float"


def encode_option(name: str, value):
    """A method option as a JSON-able value: None, bool, int, float and str as they are,
    ``precision`` formats as ``{"format": spec}`` (``precision.get(spec) == value``), lists
    and tuples element by element.  TypeError for anything else."""
    from precision.base import NumberFormat

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, NumberFormat):
        return {"format": value.spec()}
    if isinstance(value, (list, tuple)):
        return [encode_option(name, v) for v in value]
    raise TypeError(f"method option {name}={value!r} has no file form; expected None, a bool, "
                    "number, string, precision format, or a list of them")


def decode_options(options: dict) -> dict:
    """The keyword arguments ``encode_option`` encoded (formats via ``precision.get``)."""
    import precision

    def decode(value):
        if isinstance(value, dict):
            if set(value) != {"format"} or not isinstance(value["format"], str):
                raise ValueError(f"a method option {value!r} is not a {{'format': spec}} entry")
            return precision.get(value["format"])
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    if not isinstance(options, dict):
        # the content of a damaged file, not an argument of the wrong type
        raise ValueError(f"method options must be a JSON object, got {options!r}")  # noqa: TRY004
    return {k: decode(v) for k, v in options.items()}


# ---------------------------------------------------------------------- model files
def method_record(model) -> dict | None:
    """The JSON-able record of ``model.method`` that ``Sequential.save`` stores: ``name``,
    ``options`` (the constructor's keyword arguments, formats as ``precision.get`` spec
    strings), ``state`` (``inference_state()``) and ``qconfig`` (its repr: ``restore_method``
    checks that the rebuilt method gives the same one).

    None without a method, or when the method could not be rebuilt: not registered under its
    name (``models.methods.get``; pruning's ``MaskedTraining``), or options without a file
    form.  When the model's inference then depends on the method (``hooks`` or ``qconfig``
    set), a RuntimeWarning says that the file will not reproduce it."""
    m = model.method
    if m is None:
        return None
    from models import methods

    try:
        registered = methods.get(m.name) is type(m) if m.name else False
        record = {"name": m.name, "options": m.options(), "state": m.inference_state(),
                  "qconfig": repr(model.qconfig)} if registered else None
        why = f"{type(m).__name__} is not registered under its name {m.name!r}"
    except (TypeError, ValueError) as exc:
        record, why = None, str(exc)
    if record is None and (model.hooks is not None or model.qconfig is not None):
        warnings.warn(f"model {model.name!r}: its training method cannot be stored ({why}); "
                      "a loaded copy evaluates without its hooks and qconfig",
                      RuntimeWarning, stacklevel=4)
    return record


def restore_method(model, record, source) -> None:
    """Rebuild the training method of a loaded ``model`` from its ``method_record`` (read
    from ``source``, named in errors) and ``restore`` it onto the model.

    If the rebuilt method gives another qconfig than the saved one, the method keeps learned
    inference state it does not export (``inference_state``): its hooks would compute
    something else, so the model keeps the plain forward of a version-1 file (no hooks, no
    qconfig) and a RuntimeWarning says so."""
    from models import methods

    if not isinstance(record, dict) or not {"name", "options", "state"} <= set(record):
        raise ValueError(f"{source}: 'training_method' must be a JSON object with name, "
                         f"options and state, got {record!r}")
    method = methods.get(record["name"])(**decode_options(record["options"]))
    method.restore(model, record["state"])
    if "qconfig" in record and repr(model.qconfig) != record["qconfig"]:
        warnings.warn(f"{source}: method {record['name']!r} rebuilt from its options gives "
                      "another qconfig than the saved one: it keeps learned inference state "
                      "that it does not export (TrainingMethod.inference_state), so the model "
                      "is loaded without its hooks and qconfig and evaluates in plain float",
                      RuntimeWarning, stacklevel=4)
        model.qconfig = model.hooks = model.method = None
