"""Datasets read from a user's local directory: full MNIST (IDX) and CIFAR-10 (binary).

Nothing is downloaded. Files are verified before use: the four MNIST ``.gz``
files and ``cifar-10-binary.tar.gz`` against their published md5 sums; an
extracted ``cifar-10-batches-bin/`` folder (no published per-file checksum)
by its record structure, with its sha256 recorded. Parsing uses numpy only;
nothing is ever unpickled.

Layout of the returned arrays:

* MNIST: ``x`` float32 ``(N, 784)`` in [0, 1] (row-major 28x28, flattened so an
  MLP takes it directly), ``y`` int64 in 0..9.
* CIFAR-10: ``x`` float32 ``(N, 3, 32, 32)`` in [0, 1] (channels R, G, B),
  ``y`` int64 in 0..9.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import zlib
from pathlib import Path

import numpy as np

MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_SPLITS = {"train": ("train", 60000), "test": ("t10k", 10000)}

CIFAR10_TAR = "cifar-10-binary.tar.gz"
CIFAR10_TAR_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR10_DIR = "cifar-10-batches-bin"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_FILES = ("test_batch.bin",)
CIFAR10_RECORDS_PER_FILE = 10000
CIFAR10_RECORD_BYTES = 1 + 3 * 32 * 32

# IDX type code (third magic byte) -> big-endian numpy dtype
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetError(RuntimeError):
    """A dataset is missing, corrupt or malformed; the message says what to fix."""


# --------------------------------------------------------------------------- checksums

def _digest(path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def md5sum(path) -> str:
    """Hex md5 of a file (the published reference for MNIST and CIFAR-10)."""
    return _digest(path, "md5")


def sha256sum(path) -> str:
    """Hex sha256 of a file."""
    return _digest(path, "sha256")


def verify_md5(path, expected: str) -> dict:
    """Check ``path`` against a published md5; return its checksum record for a manifest."""
    actual = md5sum(path)
    if actual != expected:
        raise DatasetError(
            f"{path}: md5 {actual} does not match the published md5 {expected} "
            "(corrupt or not the published file)"
        )
    return {"md5": actual, "published_md5": expected, "sha256": sha256sum(path)}


def _require_dir(path, key: str, expected: str) -> Path:
    if path is None or str(path).strip() == "":
        raise DatasetError(
            f"{key} is not set: put {expected} in a directory and set {key} "
            "in config/config.yaml or a --configfile"
        )
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DatasetError(f"{key} = {str(path)!r} is not an existing directory; it must hold {expected}")
    return p


# --------------------------------------------------------------------------- IDX / MNIST

def _read_bytes(source) -> tuple[bytes, str]:
    """Raw (decompressed) bytes and a display name from a path, file object or bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "<bytes>"
    elif isinstance(source, (str, os.PathLike)):
        name = str(source)
        data = Path(source).read_bytes()
    else:
        name = getattr(source, "name", "<file object>")
        data = source.read()
    if data[:2] == b"\x1f\x8b":  # gzip magic
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{name}: not a valid gzip file ({exc})") from exc
    return data, str(name)


def read_idx(source) -> np.ndarray:
    """Parse one IDX file (optionally gzipped) into a native-endian numpy array.

    Header: two zero bytes, a type code, the number of dimensions, then one
    big-endian uint32 per dimension; the data follow, big-endian, row-major.
    """
    data, name = _read_bytes(source)
    if len(data) < 4:
        raise DatasetError(f"{name}: IDX file too short for its 4-byte magic number")
    zero, code, ndim = data[:2], data[2], data[3]
    if zero != b"\x00\x00" or code not in _IDX_DTYPES or ndim == 0:
        raise DatasetError(f"{name}: bad IDX magic number 0x{data[:4].hex()} (not an IDX file)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{name}: IDX header truncated ({len(data)} bytes, need {header})")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise DatasetError(
            f"{name}: IDX file has {len(data)} bytes but its header {dims} implies {expected} "
            "(truncated or malformed)"
        )
    arr = np.frombuffer(data, dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def load_mnist_split(directory, prefix: str, n_expected: int | None = None,
                     md5: dict | None = MNIST_MD5) -> tuple[np.ndarray, np.ndarray, dict]:
    """Verify and parse ``<prefix>-images-idx3-ubyte.gz`` and ``<prefix>-labels-idx1-ubyte.gz``.

    Returns ``x`` float32 (N, 784) in [0, 1], ``y`` int64 and the files' checksum records.
    ``md5=None`` skips the md5 check (for synthetic files in tests).
    """
    directory = Path(directory)
    files = {}
    parsed = {}
    for kind, idx in (("images", 3), ("labels", 1)):
        fname = f"{prefix}-{kind}-idx{idx}-ubyte.gz"
        path = directory / fname
        if not path.is_file():
            raise DatasetError(f"{path}: file not found")
        if md5 is not None:
            files[fname] = verify_md5(path, md5[fname])
        else:
            files[fname] = {"md5": md5sum(path), "sha256": sha256sum(path)}
        parsed[kind] = read_idx(path)
    images, labels = parsed["images"], parsed["labels"]
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetError(f"{directory / f'{prefix}-images-idx3-ubyte.gz'}: expected uint8 images "
                           f"of shape (N, 28, 28), got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(f"{directory / f'{prefix}-labels-idx1-ubyte.gz'}: expected a uint8 "
                           f"label vector, got {labels.dtype} {labels.shape}")
    if len(images) != len(labels) or (n_expected is not None and len(labels) != n_expected):
        raise DatasetError(f"{directory}: {prefix} has {len(images)} images and {len(labels)} labels"
                           + (f", expected {n_expected} of each" if n_expected else ""))
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{directory / f'{prefix}-labels-idx1-ubyte.gz'}: label {labels.max()} > 9")
    x = images.reshape(len(images), 28 * 28).astype(np.float32) / np.float32(255)
    return x, labels.astype(np.int64), files


def load_mnist_dir(path, key: str = "data.mnist.path",
                   md5: dict | None = MNIST_MD5) -> tuple[dict[str, np.ndarray], dict]:
    """Full MNIST from a directory holding the four published IDX ``.gz`` files.

    Returns ``{x_train, y_train, x_test, y_test}`` and ``{"path", "files"}`` (checksums).
    """
    expected = "the four MNIST IDX .gz files (" + ", ".join(MNIST_MD5) + ")"
    directory = _require_dir(path, key, expected)
    missing = [f for f in MNIST_MD5 if not (directory / f).is_file()]
    if missing:
        raise DatasetError(f"{key} = {str(path)!r} lacks {', '.join(missing)}; it must hold {expected}")
    arrays, files = {}, {}
    for split, (prefix, n) in MNIST_SPLITS.items():
        x, y, f = load_mnist_split(directory, prefix, n, md5)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y
        files.update(f)
    return arrays, {"path": str(directory.resolve()), "files": files}


# --------------------------------------------------------------------------- CIFAR-10

def read_cifar_records(data: bytes, expected_records: int | None = None,
                       name: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Parse CIFAR-10 binary records (1 label byte + 3072 pixel bytes, R then G then B planes).

    Returns ``x`` uint8 (N, 3, 32, 32) and ``y`` int64. ``expected_records``
    (10000 in the published files) is checked when given.
    """
    n, rest = divmod(len(data), CIFAR10_RECORD_BYTES)
    if rest or n == 0:
        raise DatasetError(f"{name}: {len(data)} bytes is not a positive whole number of "
                           f"{CIFAR10_RECORD_BYTES}-byte CIFAR-10 records (truncated or malformed)")
    if expected_records is not None and n != expected_records:
        raise DatasetError(f"{name}: {n} CIFAR-10 records, expected {expected_records}")
    rec = np.frombuffer(data, np.uint8).reshape(n, CIFAR10_RECORD_BYTES)
    y = rec[:, 0].astype(np.int64)
    bad = np.flatnonzero(y > 9)
    if bad.size:
        raise DatasetError(f"{name}: record {bad[0]} has label byte {y[bad[0]]}, labels must be 0..9")
    x = rec[:, 1:].reshape(n, 3, 32, 32).copy()
    return x, y


def _cifar_from_tar(tar_path: Path, md5: str | None) -> tuple[dict[str, bytes], dict]:
    record = verify_md5(tar_path, md5) if md5 else {"md5": md5sum(tar_path), "sha256": sha256sum(tar_path)}
    wanted = CIFAR10_TRAIN_FILES + CIFAR10_TEST_FILES
    blobs: dict[str, bytes] = {}
    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in wanted and base not in blobs:
                    blobs[base] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{tar_path}: cannot read the tar.gz archive ({exc})") from exc
    missing = [f for f in wanted if f not in blobs]
    if missing:
        raise DatasetError(f"{tar_path}: archive lacks {', '.join(missing)}")
    members = {f"{tar_path.name}:{CIFAR10_DIR}/{f}": {"sha256": hashlib.sha256(b).hexdigest()}
               for f, b in blobs.items()}
    return blobs, {tar_path.name: record, **members}


def _cifar_from_folder(folder: Path) -> tuple[dict[str, bytes], dict]:
    blobs, files = {}, {}
    for f in CIFAR10_TRAIN_FILES + CIFAR10_TEST_FILES:
        blobs[f] = (folder / f).read_bytes()
        files[f"{folder.name}/{f}"] = {"sha256": hashlib.sha256(blobs[f]).hexdigest()}
    return blobs, files


def load_cifar10_dir(path, key: str = "data.cifar10.path",
                     expected_records: int | None = CIFAR10_RECORDS_PER_FILE,
                     tar_md5: str | None = CIFAR10_TAR_MD5) -> tuple[dict[str, np.ndarray], dict]:
    """CIFAR-10 from ``cifar-10-binary.tar.gz`` (read in memory, md5-checked) or an
    extracted ``cifar-10-batches-bin/`` folder (record structure checked).

    ``path`` may also be the ``cifar-10-batches-bin`` folder itself. The
    archive wins when both are present. Returns the arrays and ``{"path", "files"}``.
    """
    expected = (f"{CIFAR10_TAR} (md5 {CIFAR10_TAR_MD5}) or an extracted {CIFAR10_DIR}/ folder "
                f"with {', '.join(CIFAR10_TRAIN_FILES + CIFAR10_TEST_FILES)}")
    directory = _require_dir(path, key, expected)
    tar_path = directory / CIFAR10_TAR
    folder = next((d for d in (directory / CIFAR10_DIR, directory)
                   if all((d / f).is_file() for f in CIFAR10_TRAIN_FILES + CIFAR10_TEST_FILES)), None)
    if tar_path.is_file():
        blobs, files = _cifar_from_tar(tar_path, tar_md5)
        source = tar_path
    elif folder is not None:
        blobs, files = _cifar_from_folder(folder)
        source = folder
    else:
        raise DatasetError(f"{key} = {str(path)!r} holds neither; it must hold {expected}")
    parts = {f: read_cifar_records(b, expected_records, name=f"{source}:{f}") for f, b in blobs.items()}
    arrays = {}
    for split, names in (("train", CIFAR10_TRAIN_FILES), ("test", CIFAR10_TEST_FILES)):
        x = np.concatenate([parts[f][0] for f in names])
        arrays[f"x_{split}"] = x.astype(np.float32) / np.float32(255)
        arrays[f"y_{split}"] = np.concatenate([parts[f][1] for f in names])
    return arrays, {"path": str(directory.resolve()), "files": files}
