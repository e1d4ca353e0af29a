"""Data sets: digits split, IDX reading (gz, raw, corrupt), checksums, npz, real MNIST."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from models import datasets
from models._idx import parse_idx, to_idx
from models.datasets import MNIST_FILES, Dataset


# ----------------------------------------------------------------------------- digits
def test_digits_layout_and_split():
    d = datasets.load("digits")
    assert d.name == "digits" and d.n_classes == 10 and d.input_shape == (1, 8, 8)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (1074, 355, 368)
    for x, y in ((d.x_train, d.y_train), (d.x_val, d.y_val), (d.x_test, d.y_test)):
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.min() == 0.0 and x.max() == 1.0
        assert set(np.unique(x * 16)) <= set(range(17))   # exactly pixels / 16
        assert set(np.unique(y)) == set(range(10))          # stratified: every class
    # stratified 60/20/20: each class's share of train is floor(60%)
    from sklearn.datasets import load_digits
    sk = load_digits()
    counts = np.bincount(sk.target)
    assert_array_equal(np.bincount(d.y_train), (counts * 0.6).astype(int))
    # the same images and labels as scikit-learn's loader, read without importing it
    x_all = np.concatenate([d.x_train, d.x_val, d.x_test]).reshape(-1, 64) * 16
    y_all = np.concatenate([d.y_train, d.y_val, d.y_test])
    order = np.argsort(np.concatenate(datasets.stratified_split(sk.target)))
    assert_array_equal(x_all[order], sk.data)
    assert_array_equal(y_all[order], sk.target)
    # the split is fixed: same hash on every load, and disjoint
    assert datasets.load("digits").sha256 == d.sha256
    rows = {r.tobytes() for r in d.x_train}
    assert sum(r.tobytes() in rows for r in d.x_test) < 5   # the raw data has a few duplicates


def test_dataset_is_frozen_and_validated():
    d = datasets.load("digits")
    with pytest.raises(Exception):
        d.name = "x"
    with pytest.raises(ValueError, match="read-only"):
        d.x_train[0, 0, 0, 0] = 1
    x = np.zeros((3, 4), np.float32)
    y = np.zeros(3, np.int64)
    with pytest.raises(TypeError, match="x_train must be a float32 ndarray, got float64"):
        Dataset(x.astype(np.float64), y, x, y, x, y)
    with pytest.raises(ValueError, match=r"x_val has shape \(3, 4\) and y_val \(2,\)"):
        Dataset(x, y, x, y[:2], x, y)
    assert Dataset(x.copy(), y.copy(), x.copy(), y.copy(), x.copy(), y.copy()).n_classes == 1


def test_subset():
    d = datasets.load("digits")
    xs, ys = d.subset(10)
    assert_array_equal(xs, d.x_test[:10]) and assert_array_equal(ys, d.y_test[:10])
    assert len(d.subset(5, split="train")[0]) == 5
    with pytest.raises(ValueError, match=r"n=369 is out of range; expected 1 <= n <= 368"):
        d.subset(369)
    with pytest.raises(ValueError, match="split='dev' is unknown; expected one of train, val"):
        d.subset(3, split="dev")


def test_sha256_depends_on_every_array():
    d = datasets.load("digits")
    y = d.y_test.copy()
    y[0] = (y[0] + 1) % 10
    other = Dataset(d.x_train, d.y_train, d.x_val, d.y_val, d.x_test, y)
    assert other.sha256 != d.sha256


def test_unknown_names():
    with pytest.raises(ValueError, match="data set 'cifar' is unknown; expected one of "
                                         "'digits', 'mnist', 'npz'"):
        datasets.load("cifar")
    with pytest.raises(ValueError, match="load\\('npz'\\) needs path="):
        datasets.load("npz")


# ----------------------------------------------------------------------------- IDX
def test_idx_round_trip_every_type(rng):
    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        a = (rng.standard_normal((3, 4, 2)) * 50).astype(dtype)
        b = parse_idx(to_idx(a))
        assert b.dtype == np.dtype(dtype).newbyteorder("=")
        assert_array_equal(b, a)


@given(hnp.arrays(st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64]),
                  hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)))
def test_idx_round_trip_any_shape(a):
    """parse_idx(to_idx(a)) == a bit for bit, for every IDX dtype and shape (empty too)."""
    b = parse_idx(to_idx(a))
    assert b.shape == a.shape and b.dtype == a.dtype.newbyteorder("=")
    assert b.tobytes() == np.ascontiguousarray(a).tobytes()   # bitwise: NaN payloads too


def test_idx_header_is_big_endian():
    data = to_idx(np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert data[:12] == bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3])


def test_idx_errors():
    good = to_idx(np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="f: not an IDX file"):
        parse_idx(b"\x01" + good[1:], source="f")
    with pytest.raises(ValueError, match="unknown IDX type byte 0x07"):
        parse_idx(good[:2] + b"\x07" + good[3:])
    with pytest.raises(ValueError, match=r"announces shape \(2, 2\) \(16 bytes\) but the file "
                                         r"has 15 bytes"):
        parse_idx(good[:-1])


def write_mnist(directory: Path, n_train=12, n_test=6, compress=True, seed=0):
    """A tiny synthetic MNIST (random pixels) in the original file names."""
    rng = np.random.default_rng(seed)
    content = {"train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
               "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
               "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
               "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8)}
    directory.mkdir(parents=True, exist_ok=True)
    for key, arr in content.items():
        stem = MNIST_FILES[key][0]
        blob = to_idx(arr)
        if compress:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(blob))
        else:
            (directory / stem).write_bytes(blob)
    return content


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_reader_on_synthetic_files(tmp_path, compress):
    content = write_mnist(tmp_path, compress=compress)
    d = datasets.load("mnist", path=tmp_path, verify=False)
    assert d.input_shape == (1, 28, 28)
    # validation = the last min(5000, N/2) training images, in order
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (6, 6, 6)
    assert_array_equal(d.x_train[:, 0] * 255, content["train_images"][:6])
    assert_array_equal(d.y_val, content["train_labels"][6:])
    assert_array_equal(d.x_test, content["test_images"][:, None].astype(np.float32) / 255)
    assert d.x_test.dtype == np.float32 and d.y_test.dtype == np.int64


def test_mnist_checksums_reject_files_that_are_not_the_published_ones(tmp_path):
    write_mnist(tmp_path)
    with pytest.raises(ValueError, match=r"MNIST file .*train-images-idx3-ubyte.gz is corrupt "
                                         r"or not the published file: SHA-256 [0-9a-f]{64}, "
                                         r"expected 440fcabf.*set LOWBIT_DATA"):
        datasets.load("mnist", path=tmp_path)


def test_mnist_missing_and_broken_files(tmp_path, monkeypatch):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte.gz \(or "
                                                r"t10k-labels-idx1-ubyte\) not found in .*; set "
                                                r"LOWBIT_DATA .* or pass path="):
        datasets.load("mnist", path=tmp_path, verify=False)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz is not a valid gzip file"):
        datasets.load("mnist", path=tmp_path, verify=False)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(to_idx(
        np.zeros(5, np.uint8))))
    with pytest.raises(ValueError, match=r"MNIST test files .* disagree: images \(6, 28, 28\), "
                                         r"labels \(5,\)"):
        datasets.load("mnist", path=tmp_path, verify=False)
    monkeypatch.delenv("LOWBIT_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="MNIST location unknown: pass path= .* or set "
                                                "LOWBIT_DATA"):
        datasets.load("mnist")
    monkeypatch.setenv("LOWBIT_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        datasets.load("mnist")


def test_mnist_found_through_lowbit_data(tmp_path, monkeypatch):
    write_mnist(tmp_path, compress=False)
    monkeypatch.setenv("LOWBIT_DATA", str(tmp_path))
    assert len(datasets.load("mnist", verify=False).x_test) == 6


def test_embedded_raw_checksums_match_the_published_md5s(mnist_dir):
    """The decompressed SHA-256 constants describe the same bytes as the README's md5s."""
    md5 = {"train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
           "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
           "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
           "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637"}
    for stem, sha_gz, sha_raw in MNIST_FILES.values():
        blob = (mnist_dir / f"{stem}.gz").read_bytes()
        assert hashlib.sha256(blob).hexdigest() == sha_gz
        raw = gzip.decompress(blob)
        assert hashlib.md5(raw).hexdigest() == md5[stem]
        assert hashlib.sha256(raw).hexdigest() == sha_raw


def test_real_mnist(mnist_dir):
    d = datasets.load("mnist", path=mnist_dir)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (55000, 5000, 10000)
    assert d.x_train.shape[1:] == (1, 28, 28) and d.x_train.dtype == np.float32
    counts = np.bincount(np.concatenate([d.y_train, d.y_val]))
    assert_array_equal(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    assert_array_equal(np.bincount(d.y_test),
                       [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    assert d.x_test.min() == 0.0 and d.x_test.max() == 1.0


# ----------------------------------------------------------------------------- npz
def test_npz_round_trip_and_validation(tmp_path, rng):
    x = rng.random((8, 3)).astype(np.float64)
    y = rng.integers(0, 4, 8)
    np.savez(tmp_path / "a.npz", x_train=x, y_train=y, x_test=x[:3], y_test=y[:3])
    d = datasets.load("npz", path=tmp_path / "a.npz")
    assert d.name == "npz:a.npz" and d.x_train.dtype == np.float32 and len(d.x_val) == 0
    assert_array_equal(d.y_train, y)
    np.savez(tmp_path / "b.npz", x_train=x, y_train=y)
    with pytest.raises(ValueError, match=r"lacks \['x_test', 'y_test'\]"):
        datasets.load("npz", path=tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", x_train=x, y_train=y, x_test=x, y_test=y, extra=y)
    with pytest.raises(ValueError, match=r"unexpected keys \['extra'\]"):
        datasets.load("npz", path=tmp_path / "c.npz")
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y.astype(float), x_test=x, y_test=y)
    with pytest.raises(TypeError, match="y_train must be integer labels"):
        datasets.load("npz", path=tmp_path / "d.npz")
    np.savez(tmp_path / "e.npz", x_train=x, y_train=y, x_test=x, y_test=y, x_val=x)
    with pytest.raises(ValueError, match="must hold both x_val and y_val or neither"):
        datasets.load("npz", path=tmp_path / "e.npz")
    obj = np.empty(2, dtype=object)
    np.savez(tmp_path / "f.npz", x_train=obj, y_train=y, x_test=x, y_test=y)
    with pytest.raises(ValueError, match="allow_pickle"):
        datasets.load("npz", path=tmp_path / "f.npz")
