"""Spec validation: every impossible spec is refused before anything runs, naming the key."""

from __future__ import annotations

import pytest

from lowbit.spec import AXES, Spec, SpecError, load_spec


@pytest.fixture
def base():
    return {"model": "digits-mlp", "dataset": "digits", "samples": 50,
            "train": {"epochs": 1, "seed": 0},
            "axes": {"family": ["fixed"], "wl": [4, 8], "fl": "auto",
                     "rounding": ["nearest", "AP_RND_CONV"], "target": ["cpu-int8"]}}


def with_axes(base, **axes):
    return {**base, "axes": {**base["axes"], **axes}}


def test_valid_spec_is_canonical(base):
    """Aliases become lowbit names, scalars become one-element axes, order is kept."""
    spec = load_spec(base)
    assert spec.dims == ("family", "wl", "fl", "rounding", "target")
    assert spec.axis("rounding") == ("nearest", "nearest_even")
    assert spec.axis("fl") == ("auto",)
    assert spec.shape == (1, 2, 1, 2, 1) and spec.n_points == 4


def test_toml_text_round_trip_and_fingerprint(base, tmp_path):
    """The canonical TOML parses back to an equal spec; formatting does not change the
    fingerprint, a different value does."""
    spec = load_spec(base)
    assert load_spec(spec.to_toml()) == spec
    path = tmp_path / "s.toml"
    path.write_text("# a comment\n" + spec.to_toml().replace(" = ", "   =   "))
    again = load_spec(path)
    assert again == spec and again.fingerprint() == spec.fingerprint()
    other = load_spec(with_axes(base, wl=[4, 9]))
    assert other.fingerprint() != spec.fingerprint()


def test_example_specs_validate():
    """Every shipped example spec is valid."""
    from pathlib import Path
    examples = sorted((Path(__file__).parents[2] / "examples").glob("*.toml"))
    assert examples
    for path in examples:
        assert isinstance(load_spec(path), Spec)


@pytest.mark.parametrize("change, match", [
    ({"modell": "x"}, r"unknown spec key 'modell'; did you mean 'model'\?"),
    ({"samples": 0}, r"samples=0 is out of range; expected 1 <= samples"),
    ({"samples": 2.5}, r"samples=2.5 must be an integer"),
    ({"dataset": "cifar"}, r"dataset='cifar' is not known; expected one of digits, mnist"),
    ({"model": "resnet-50"}, r"model='resnet-50' is neither a zoo name nor an .npz file"),
    ({"model": "missing.npz"}, r"model='missing.npz': no such model file"),
    ({"train": {"epoch": 3}}, r"unknown \[train\] key 'epoch'; did you mean 'epochs'\?"),
    ({"train": {"lr": -1.0}}, r"train.lr=-1.0 must be a positive number"),
    ({"axes": {}}, r"\[axes\] is empty"),
])
def test_bad_top_level(base, change, match):
    with pytest.raises(SpecError, match=match):
        load_spec({**base, **change})


def test_missing_required_key(base):
    del base["samples"]
    with pytest.raises(SpecError, match=r"spec key 'samples' is missing"):
        load_spec(base)


@pytest.mark.parametrize("axes, match", [
    ({"seeds": [0, 1]}, r"unknown axis 'seeds'; did you mean 'seed'\?"),
    ({"wl": [0, 8]}, r"wl=0 is out of range; expected 1 <= wl <= 64"),
    ({"wl": [8, 65]}, r"wl=65 is out of range; expected 1 <= wl <= 64"),
    ({"wl": []}, r"axis 'wl' is empty"),
    ({"wl": [4, 4]}, r"axis 'wl' repeats a value"),
    ({"wl": ["8"]}, r"wl='8' must be an integer"),
    ({"fl": [2, "auto"]}, r"fl mixes \"auto\" with integers"),
    ({"il": [2]}, r"axes 'fl' and 'il' are exclusive"),
    ({"rounding": ["round"]}, r"rounding='round' is not a known mode"),
    ({"overflow": ["clip"]}, r"overflow='clip' is not a known mode"),
    ({"rounding": ["stochastic"]}, r"rounding 'stochastic' needs a seed: add a 'seed' axis"),
    ({"target": ["gpu-a100"]}, r"target='gpu-a100' is not a known target; known: .*cpu-int8"),
    ({"family": ["posit"]}, r"family='posit' is not known; expected one of fixed"),
    ({"family": ["float"]}, r"family 'float' needs an 'exp_bits' axis"),
    ({"exp_bits": [4]}, r"axis 'exp_bits' is only used by family 'float'"),
    ({"format": ["int8"]}, r"axis 'format' fixes the whole format; it cannot be combined with "
                           r"'family', 'wl', 'fl', 'rounding'"),
    ({"accumulator": [0]}, r"accumulator=0 is out of range; expected 1 <= accumulator <= 64"),
    ({"sparsity": [1.0]}, r"sparsity=1.0 is out of range; expected 0 <= sparsity < 1"),
    ({"seed": [-1]}, r"seed=-1 is out of range"),
    ({"sparsity": [-0.1]}, r"sparsity=-0.1 is out of range; expected 0 <= sparsity < 1"),
    ({"sparsity": ["half"]}, r"sparsity='half' is out of range; expected 0 <= sparsity < 1"),
    ({"clusters": [1]}, r"clusters=1 is out of range; expected 2 <= clusters <= 65536"),
    ({"clusters": [2.5]}, r"clusters=2.5 must be an integer"),
    ({"hash_compression": [0]},
     r"hash_compression=0 is out of range; expected 0 < hash_compression <= 1"),
    ({"hash_compression": [1.5]}, r"hash_compression=1.5 is out of range"),
    ({"hash_compression": [True]}, r"hash_compression=True is out of range"),
    ({"hash_compression": [0.5], "sparsity": [0.5]},
     r"axis 'hash_compression' cannot be combined with 'sparsity': HashedNets layers"),
    ({"hash_compression": [0.5], "clusters": [4]},
     r"axis 'hash_compression' cannot be combined with 'clusters'"),
])
def test_bad_axes(base, axes, match):
    with pytest.raises(SpecError, match=match):
        load_spec(with_axes(base, **axes))


def test_stochastic_with_a_seed_axis_or_a_top_level_seed_is_fine(base):
    spec = load_spec(with_axes(base, rounding=["stochastic"], seed=[0, 1]))
    assert spec.axis("seed") == (0, 1)
    assert load_spec({**with_axes(base, rounding=["stochastic"]), "seed": 3}).seed == 3


def test_format_axis_alone(base):
    """Precision spec strings are checked with precision.get."""
    spec = load_spec({**base, "axes": {"format": ["ap_fixed<8,3,AP_RND_CONV,AP_SAT>"]}})
    assert spec.dims == ("format",)
    with pytest.raises(SpecError, match=r"format='ap_fixd<8,3>' is not a format"):
        load_spec({**base, "axes": {"format": ["ap_fixd<8,3>"]}})


def test_fixed_family_needs_wl(base):
    with pytest.raises(SpecError, match=r"family 'fixed' needs a 'wl' axis"):
        load_spec({**base, "axes": {"rounding": ["nearest"]}})


def test_wrong_spec_type_and_missing_file(tmp_path):
    with pytest.raises(TypeError, match=r"spec must be a dict, a TOML path or TOML text, got int"):
        load_spec(3)
    with pytest.raises(FileNotFoundError, match=r"spec file .*nope.toml' does not exist"):
        load_spec(str(tmp_path / "nope.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("model = \n")
    with pytest.raises(SpecError, match=r"is not valid TOML"):
        load_spec(bad)


def test_every_axis_is_documented():
    assert all(isinstance(v, str) and v for v in AXES.values())


def test_compression_axes_and_table(base):
    """The compression axes and [compress] go through validation and the canonical text."""
    spec = load_spec({**with_axes(base, sparsity=[0, 0.9], clusters=[4]),
                      "compress": {"retrain_epochs": 1}})
    assert spec.axis("sparsity") == (0.0, 0.9)
    assert spec.compress_kwargs == {"retrain_epochs": 1, "seed": 0}
    assert load_spec(spec.to_toml()) == spec


@pytest.mark.parametrize("compress, axes, match", [
    ({"retrain_epochs": -1}, {"sparsity": [0.5]},
     r"compress.retrain_epochs=-1 is out of range; expected 0 <= compress.retrain_epochs"),
    ({"retrain_epochs": 2}, {"clusters": [4]},
     r"compress.retrain_epochs=2 retrains pruned models, but there is no 'sparsity' axis"),
    ({"retrain": 2}, {"sparsity": [0.5]},
     r"unknown \[compress\] key 'retrain'; did you mean 'retrain_epochs'"),
    ({"seed": 1}, {}, r"\[compress\] is given but no compression axis is swept"),
    ("x", {"sparsity": [0.5]}, r"\[compress\] must be a table, got 'x'"),
])
def test_bad_compress_table(base, compress, axes, match):
    with pytest.raises(SpecError, match=match):
        load_spec({**with_axes(base, **axes), "compress": compress})
