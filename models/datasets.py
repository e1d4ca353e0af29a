"""Data sets: scikit-learn's 8x8 digits (embedded), MNIST from its original IDX files, and a
user's arrays from an ``.npz`` file, as a frozen :class:`Dataset`.

Images are float32 ``(N, C, H, W)`` in [0, 1]; labels int64.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models._idx import IDXError, parse_idx

#: Seed of the fixed digits split (never change: results and golden files depend on it).
DIGITS_SPLIT_SEED = 0
#: MNIST validation split: the last VAL_SIZE images of the official training set.
MNIST_VAL_SIZE = 5000

#: SHA-256 of the four published MNIST files, as distributed (.gz) and decompressed.
MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte",
                     "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                     "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train_labels": ("train-labels-idx1-ubyte",
                     "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                     "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "test_images": ("t10k-images-idx3-ubyte",
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "test_labels": ("t10k-labels-idx1-ubyte",
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}

_SPLITS = ("train", "val", "test")
NPZ_REQUIRED = ("x_train", "y_train", "x_test", "y_test")
NPZ_OPTIONAL = ("x_val", "y_val")


def arrays_sha256(*arrays: np.ndarray) -> str:
    """SHA-256 over each array's dtype, shape and C-order bytes, in order."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train / validation / test splits of a classification data set.

    ``x_*`` float32 ``(N, *input_shape)``, ``y_*`` int64 in ``[0, n_classes)``; ``sha256`` is
    :func:`arrays_sha256` of the six arrays (computed when not given).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = "dataset"
    sha256: str = field(default="")
    n_classes: int = 0

    def __post_init__(self):
        shape = None
        for split in _SPLITS:
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if not isinstance(x, np.ndarray) or x.dtype != np.float32:
                raise TypeError(f"x_{split} must be a float32 ndarray, got "
                                f"{getattr(x, 'dtype', type(x).__name__)}")
            if not isinstance(y, np.ndarray) or y.dtype != np.int64:
                raise TypeError(f"y_{split} must be an int64 ndarray, got "
                                f"{getattr(y, 'dtype', type(y).__name__)}")
            if x.ndim < 2 or y.shape != (len(x),):
                raise ValueError(f"x_{split} has shape {x.shape} and y_{split} {y.shape}; "
                                 "expected (N, ...) and (N,)")
            if shape is not None and x.shape[1:] != shape:
                raise ValueError(f"x_{split} has per-sample shape {x.shape[1:]}; the other "
                                 f"splits have {shape}")
            shape = x.shape[1:]
            if len(y) and y.min() < 0:
                raise ValueError(f"y_{split} holds the negative label {y.min()}")
        for split in _SPLITS:  # frozen means frozen: sha256 must keep describing the arrays
            getattr(self, f"x_{split}").flags.writeable = False
            getattr(self, f"y_{split}").flags.writeable = False
        if not self.n_classes:
            top = max((int(getattr(self, f"y_{s}").max()) for s in _SPLITS
                       if len(getattr(self, f"y_{s}"))), default=-1)
            object.__setattr__(self, "n_classes", top + 1)
        if not self.sha256:
            object.__setattr__(self, "sha256", arrays_sha256(
                *(getattr(self, f"{v}_{s}") for s in _SPLITS for v in "xy")))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Per-sample shape, e.g. (1, 28, 28)."""
        return tuple(self.x_train.shape[1:])

    def subset(self, n: int, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` samples ``(x, y)`` of ``split`` ("train", "val" or "test")."""
        if split not in _SPLITS:
            raise ValueError(f"split={split!r} is unknown; expected one of {', '.join(_SPLITS)}")
        x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if not 1 <= n <= len(x):
            raise ValueError(f"n={n} is out of range; expected 1 <= n <= {len(x)} "
                             f"(the size of the {split} split)")
        return x[:n], y[:n]

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, input_shape={self.input_shape}, "
                f"n_classes={self.n_classes}, train={len(self.x_train)}, "
                f"val={len(self.x_val)}, test={len(self.x_test)}, sha256={self.sha256[:12]}...)")


# ---------------------------------------------------------------------- loaders
def load(name: str, path=None, *, verify: bool = True) -> Dataset:
    """Load a data set by name.

    * ``"digits"``: scikit-learn's 1,797 8x8 digits, ``x = pixels / 16`` shaped (N, 1, 8, 8); a
      fixed stratified split seeded with ``DIGITS_SPLIT_SEED``: per class, a permutation, the
      first 60% to train, the next 20% to validation, the rest to test (1074/355/368 images).
    * ``"mnist"``: the original IDX files (``.gz`` or decompressed) in ``path`` or, when None,
      in ``$LOWBIT_DATA``; ``x = pixels / 255`` (N, 1, 28, 28); validation = the last 5,000 of
      the 60,000 training images (55,000 remain for training); test = the 10,000 test images.
      Each file's SHA-256 is checked against the published files (``verify=False`` skips it).
    * ``"npz"``: a user's ``.npz`` at ``path`` with float arrays ``x_train, x_test`` (and
      optionally ``x_val``) and integer labels ``y_train, y_test`` (``y_val``); read with
      ``allow_pickle=False``.  Without ``x_val`` the validation split is empty.
    """
    if name == "digits":
        if path is not None:
            raise ValueError("load('digits') takes no path: the data ships with scikit-learn")
        return load_digits()
    if name == "mnist":
        return load_mnist(path, verify=verify)
    if name == "npz":
        if path is None:
            raise ValueError("load('npz') needs path= pointing at an .npz file")
        return load_npz(path)
    raise ValueError(f"data set {name!r} is unknown; expected one of 'digits', 'mnist', 'npz'")


def names() -> list[str]:
    """The data set names ``load`` knows."""
    return ["digits", "mnist", "npz"]


def stratified_split(y: np.ndarray, fractions=(0.6, 0.2), seed: int = 0):
    """Index arrays (train, val, test) with each class split by ``fractions`` (rounded down
    per class; the remainder goes to test), each sorted ascending."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        a = int(len(idx) * fractions[0])
        b = a + int(len(idx) * fractions[1])
        for k, chunk in enumerate((idx[:a], idx[a:b], idx[b:])):
            parts[k].append(chunk)
    return tuple(np.sort(np.concatenate(p)) for p in parts)


def _digits_file() -> Path:
    """scikit-learn's ``datasets/data/digits.csv.gz``, located without importing scikit-learn
    (``sklearn.datasets`` takes seconds to import; the file is all we need)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("load('digits') needs scikit-learn, which ships the data: "
                                  "pip install scikit-learn")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"scikit-learn's digits file {path} is missing; reinstall "
                                "scikit-learn")
    return path


@functools.lru_cache(maxsize=1)
def load_digits() -> Dataset:
    """scikit-learn's digits as a :class:`Dataset` (see :func:`load`).  Cached: a Dataset is
    immutable (its arrays are read-only), so every caller can share one."""
    with gzip.open(_digits_file(), "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.shape != (1797, 65) or table[:, :64].min() < 0 or table[:, :64].max() > 16:
        raise ValueError(f"scikit-learn's digits file has shape {table.shape} or pixel values "
                         "outside 0..16; expected (1797, 65)")
    x = (table[:, :64].astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    y = table[:, 64]
    tr, va, te = stratified_split(y, seed=DIGITS_SPLIT_SEED)
    return Dataset(x[tr], y[tr], x[va], y[va], x[te], y[te], name="digits", n_classes=10)


def _read_mnist_file(directory: Path, key: str, verify: bool) -> np.ndarray:
    stem, sha_gz, sha_raw = MNIST_FILES[key]
    gz, raw = directory / f"{stem}.gz", directory / stem
    fix = ("set LOWBIT_DATA to the directory holding the four original MNIST IDX files "
           "(train-images-idx3-ubyte.gz, ...) or pass path= to datasets.load('mnist', ...)")
    if gz.is_file():
        blob, file, expected = gz.read_bytes(), gz, sha_gz
    elif raw.is_file():
        blob, file, expected = raw.read_bytes(), raw, sha_raw
    else:
        raise FileNotFoundError(f"MNIST file {stem}.gz (or {stem}) not found in {directory}; "
                                f"{fix}")
    if verify:
        got = hashlib.sha256(blob).hexdigest()
        if got != expected:
            raise ValueError(f"MNIST file {file} is corrupt or not the published file: "
                             f"SHA-256 {got}, expected {expected}; download it again, "
                             f"or {fix}")
    if file is gz:
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError) as exc:
            raise ValueError(f"MNIST file {file} is not a valid gzip file ({exc}); {fix}") from exc
    try:
        return parse_idx(blob, source=str(file))
    except IDXError as exc:
        raise ValueError(f"{exc}; {fix}") from exc


def load_mnist(path=None, *, verify: bool = True) -> Dataset:
    """MNIST from its IDX files (see :func:`load`)."""
    if path is None:
        env = os.environ.get("LOWBIT_DATA")
        if not env:
            raise FileNotFoundError(
                "MNIST location unknown: pass path= to datasets.load('mnist', path=...) or set "
                "LOWBIT_DATA to the directory holding the four original MNIST IDX files")
        path = env
    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"MNIST directory {directory} does not exist; set LOWBIT_DATA "
                                "or pass path= to the directory holding the IDX files")
    arrays = {key: _read_mnist_file(directory, key, verify) for key in MNIST_FILES}
    for split in ("train", "test"):
        xi, yl = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if xi.ndim != 3 or yl.ndim != 1 or len(xi) != len(yl):
            raise ValueError(f"MNIST {split} files in {directory} disagree: images {xi.shape}, "
                             f"labels {yl.shape}; expected (N, H, W) and (N,)")
    x_train = arrays["train_images"].astype(np.float32)[:, None] / np.float32(255.0)
    y_train = arrays["train_labels"].astype(np.int64)
    x_test = arrays["test_images"].astype(np.float32)[:, None] / np.float32(255.0)
    y_test = arrays["test_labels"].astype(np.int64)
    nval = min(MNIST_VAL_SIZE, len(x_train) // 2)
    cut = len(x_train) - nval
    return Dataset(x_train[:cut], y_train[:cut], x_train[cut:], y_train[cut:], x_test, y_test,
                   name="mnist", n_classes=10)


def load_npz(path) -> Dataset:
    """A user's arrays from an ``.npz`` (see :func:`load`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"npz file {path} not found")
    with np.load(path, allow_pickle=False) as f:
        keys = set(f.files)
        missing = [k for k in NPZ_REQUIRED if k not in keys]
        if missing:
            raise ValueError(f"{path} lacks {missing}; expected the keys "
                             f"{', '.join(NPZ_REQUIRED)} (and optionally x_val, y_val)")
        extra = keys - set(NPZ_REQUIRED) - set(NPZ_OPTIONAL)
        if extra:
            raise ValueError(f"{path} has unexpected keys {sorted(extra)}; expected "
                             f"{', '.join(NPZ_REQUIRED + NPZ_OPTIONAL)}")
        if ("x_val" in keys) != ("y_val" in keys):
            raise ValueError(f"{path} must hold both x_val and y_val or neither")
        out = {}
        for k in NPZ_REQUIRED + NPZ_OPTIONAL:
            if k not in keys:
                continue
            a = f[k]
            if k.startswith("x"):
                if a.dtype.kind != "f":
                    raise TypeError(f"{path}: {k} must be a float array, got dtype {a.dtype}")
                out[k] = a.astype(np.float32)
            else:
                if a.dtype.kind not in "iu":
                    raise TypeError(f"{path}: {k} must be integer labels, got dtype {a.dtype}")
                out[k] = a.astype(np.int64)
    if "x_val" not in out:
        out["x_val"] = np.zeros((0,) + out["x_train"].shape[1:], np.float32)
        out["y_val"] = np.zeros(0, np.int64)
    return Dataset(name=f"npz:{path.name}", **out)
