"""Local-directory datasets: IDX parsing, MNIST checksums, CIFAR-10 binary records."""

import gzip
import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from spdl import local_datasets as ld
from spdl.local_datasets import DatasetError

REAL_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
# from ../shared/data/mnist/README.md
README_MD5 = {"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
              "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
README_SHA256 = {
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}


@pytest.fixture
def real_mnist():
    if not all((REAL_MNIST / f).is_file() for f in README_MD5):
        pytest.skip(f"real MNIST test files not in {REAL_MNIST}")
    return REAL_MNIST


def idx_bytes(arr: np.ndarray, code: int) -> bytes:
    """An IDX file for ``arr``, written independently of the reader under test."""
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


# --------------------------------------------------------------------------- real MNIST t10k

def test_real_t10k_checksums_match_readme(real_mnist):
    for fname, md5 in README_MD5.items():
        assert ld.MNIST_MD5[fname] == md5
        assert ld.md5sum(real_mnist / fname) == md5
        assert ld.sha256sum(real_mnist / fname) == README_SHA256[fname]


def test_real_t10k_idx_parses(real_mnist):
    images = ld.read_idx(real_mnist / "t10k-images-idx3-ubyte.gz")
    labels = ld.read_idx(real_mnist / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.max() == 9
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 10000 and (counts > 800).all()
    assert images.max() == 255 and images.min() == 0


def test_real_t10k_split_loader(real_mnist):
    x, y, files = ld.load_mnist_split(real_mnist, "t10k", 10000)
    assert x.shape == (10000, 784) and x.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 == x.min() and x.max() == 1.0
    raw = ld.read_idx(real_mnist / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(x[3].reshape(28, 28), raw[3] / np.float32(255))  # row-major
    for fname, md5 in README_MD5.items():
        assert files[fname] == {"md5": md5, "published_md5": md5, "sha256": README_SHA256[fname]}


def test_flipped_byte_fails_checksum_naming_the_file(real_mnist, tmp_path):
    for fname in README_MD5:
        shutil.copy(real_mnist / fname, tmp_path / fname)
    target = tmp_path / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    actual = hashlib.md5(bytes(data)).hexdigest()
    with pytest.raises(DatasetError) as err:
        ld.load_mnist_split(tmp_path, "t10k", 10000)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and README_MD5[target.name] in msg and actual in msg
    assert "corrupt or not the published file" in msg


def test_mnist_dir_missing_train_files_names_the_key(real_mnist, tmp_path):
    for fname in README_MD5:
        shutil.copy(real_mnist / fname, tmp_path / fname)
    with pytest.raises(DatasetError) as err:
        ld.load_mnist_dir(tmp_path)
    msg = str(err.value)
    assert "data.mnist.path" in msg
    assert "train-images-idx3-ubyte.gz" in msg and "train-labels-idx1-ubyte.gz" in msg


# --------------------------------------------------------------------------- missing paths

@pytest.mark.parametrize("loader,key", [(ld.load_mnist_dir, "data.mnist.path"),
                                        (ld.load_cifar10_dir, "data.cifar10.path")])
def test_unset_or_missing_dir_names_the_key(loader, key, tmp_path):
    with pytest.raises(DatasetError, match=rf"{key} is not set.*--configfile"):
        loader(None)
    with pytest.raises(DatasetError, match=rf"{key} = .*nowhere.* is not an existing directory"):
        loader(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match=key):
        loader(tmp_path)  # exists, but empty


# --------------------------------------------------------------------------- synthetic IDX

@pytest.mark.parametrize("dtype,code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B),
                                        (np.int32, 0x0C), (np.float32, 0x0D), (np.float64, 0x0E)])
def test_synthetic_idx_round_trip(dtype, code, tmp_path):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((4, 3, 5)) * 100).astype(dtype)
    raw = idx_bytes(arr, code)
    assert raw[:4] == bytes([0, 0, code, 3])
    plain, gz = tmp_path / "a.idx", tmp_path / "a.idx.gz"
    plain.write_bytes(raw)
    gz.write_bytes(gzip.compress(raw))
    for source in (plain, str(gz), raw, io.BytesIO(gzip.compress(raw))):
        out = ld.read_idx(source)
        assert out.dtype == np.dtype(dtype) and out.dtype.isnative
        np.testing.assert_array_equal(out, arr)


def test_idx_multibyte_is_big_endian():
    raw = bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) + bytes([0, 0, 1, 2, 0xFF, 0xFF, 0xFF, 0xFE])
    assert ld.read_idx(raw).tolist() == [258, -2]


def test_idx_malformed_raises():
    good = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4), 0x08)
    with pytest.raises(DatasetError, match="magic number"):
        ld.read_idx(b"\x00\x01" + good[2:])
    with pytest.raises(DatasetError, match="magic number"):
        ld.read_idx(good[:2] + b"\x07" + good[3:])  # unknown type code
    with pytest.raises(DatasetError, match="truncated"):
        ld.read_idx(good[:-1])
    with pytest.raises(DatasetError, match="truncated"):
        ld.read_idx(good[:6])  # header cut inside the dims
    with pytest.raises(DatasetError, match="malformed"):
        ld.read_idx(good + b"\x00")  # trailing bytes
    with pytest.raises(DatasetError, match="too short"):
        ld.read_idx(b"\x00\x00")
    with pytest.raises(DatasetError, match="gzip"):
        ld.read_idx(gzip.compress(good)[:-6])


def write_mnist_like(directory: Path, n_train=6, n_test=4, n_test_labels=None):
    rng = np.random.default_rng(1)
    for prefix, n, n_lab in (("train", n_train, n_train), ("t10k", n_test, n_test_labels or n_test)):
        imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labs = rng.integers(0, 10, n_lab, dtype=np.uint8)
        (directory / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(imgs, 8)))
        (directory / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labs, 8)))


def test_synthetic_mnist_dir_checks_md5_then_parses(tmp_path, monkeypatch):
    write_mnist_like(tmp_path)
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz.*corrupt or not the published"):
        ld.load_mnist_dir(tmp_path)
    monkeypatch.setattr(ld, "MNIST_SPLITS", {"train": ("train", 6), "test": ("t10k", 4)})
    arrays, source = ld.load_mnist_dir(tmp_path, md5=None)
    assert arrays["x_train"].shape == (6, 784) and arrays["x_test"].shape == (4, 784)
    assert arrays["y_test"].dtype == np.int64 and arrays["x_test"].dtype == np.float32
    assert set(source["files"]) == set(ld.MNIST_MD5)


def test_synthetic_mnist_count_mismatch_raises(tmp_path):
    write_mnist_like(tmp_path, n_test_labels=5)
    with pytest.raises(DatasetError, match="4 images and 5 labels"):
        ld.load_mnist_split(tmp_path, "t10k", md5=None)


# --------------------------------------------------------------------------- CIFAR-10

def cifar_bytes(labels, seed=0) -> tuple[bytes, np.ndarray]:
    """Records with random pixels; returns the bytes and the (N, 3, 32, 32) image array."""
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (len(labels), 3, 32, 32), dtype=np.uint8)
    recs = b"".join(bytes([lab]) + img.tobytes() for lab, img in zip(labels, imgs))
    return recs, imgs


def test_cifar_records_channel_order_and_labels():
    # one record by hand: label 7, red plane 10, green 20, blue 30
    rec = bytes([7]) + bytes([10]) * 1024 + bytes([20]) * 1024 + bytes([30]) * 1024
    x, y = ld.read_cifar_records(rec * 2, expected_records=2)
    assert x.shape == (2, 3, 32, 32) and x.dtype == np.uint8 and y.tolist() == [7, 7]
    assert (x[:, 0] == 10).all() and (x[:, 1] == 20).all() and (x[:, 2] == 30).all()
    data, imgs = cifar_bytes([0, 9, 3])
    x, y = ld.read_cifar_records(data)
    np.testing.assert_array_equal(x, imgs)
    assert y.dtype == np.int64 and y.tolist() == [0, 9, 3]


def test_cifar_records_malformed():
    data, _ = cifar_bytes([1, 2, 10])
    with pytest.raises(DatasetError, match="record 2 has label byte 10"):
        ld.read_cifar_records(data, name="b.bin")
    data, _ = cifar_bytes([1, 2])
    with pytest.raises(DatasetError, match="truncated"):
        ld.read_cifar_records(data[:-1])
    with pytest.raises(DatasetError, match="2 CIFAR-10 records, expected 10000"):
        ld.read_cifar_records(data, expected_records=10000)
    with pytest.raises(DatasetError):
        ld.read_cifar_records(b"")


def make_cifar_folder(folder: Path, n=3) -> dict[str, tuple[bytes, np.ndarray]]:
    folder.mkdir(parents=True)
    out = {}
    for i, f in enumerate(ld.CIFAR10_TRAIN_FILES + ld.CIFAR10_TEST_FILES):
        labels = [(i + j) % 10 for j in range(n)]
        out[f] = cifar_bytes(labels, seed=i)
        (folder / f).write_bytes(out[f][0])
    return out


def test_cifar_folder(tmp_path):
    parts = make_cifar_folder(tmp_path / ld.CIFAR10_DIR)
    for where in (tmp_path, tmp_path / ld.CIFAR10_DIR):  # parent dir or the folder itself
        arrays, source = ld.load_cifar10_dir(where, expected_records=3)
        assert arrays["x_train"].shape == (15, 3, 32, 32) and arrays["x_test"].shape == (3, 3, 32, 32)
        assert arrays["x_train"].dtype == np.float32 and arrays["y_train"].dtype == np.int64
        np.testing.assert_array_equal(arrays["x_test"] * 255, parts["test_batch.bin"][1])
        np.testing.assert_array_equal(arrays["x_train"][3:6] * 255, parts["data_batch_2.bin"][1])
        assert arrays["y_train"][:3].tolist() == [0, 1, 2]
        sha = hashlib.sha256(parts["test_batch.bin"][0]).hexdigest()
        assert source["files"][f"{ld.CIFAR10_DIR}/test_batch.bin"]["sha256"] == sha
    with pytest.raises(DatasetError, match="data_batch_1.bin: 3 CIFAR-10 records, expected 10000"):
        ld.load_cifar10_dir(tmp_path)  # the published record count is enforced by default


def test_cifar_folder_bad_label(tmp_path):
    make_cifar_folder(tmp_path / ld.CIFAR10_DIR)
    bad = tmp_path / ld.CIFAR10_DIR / "data_batch_3.bin"
    data = bytearray(bad.read_bytes())
    data[ld.CIFAR10_RECORD_BYTES] = 10  # label byte of record 1
    bad.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"data_batch_3\.bin: record 1 has label byte 10"):
        ld.load_cifar10_dir(tmp_path, expected_records=3)


def test_cifar_tarball(tmp_path):
    parts = make_cifar_folder(tmp_path / "src" / ld.CIFAR10_DIR)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    tar_path = data_dir / ld.CIFAR10_TAR
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(tmp_path / "src" / ld.CIFAR10_DIR, arcname=ld.CIFAR10_DIR)
    actual = ld.md5sum(tar_path)
    with pytest.raises(DatasetError) as err:
        ld.load_cifar10_dir(data_dir, expected_records=3)
    msg = str(err.value)
    assert ld.CIFAR10_TAR in msg and ld.CIFAR10_TAR_MD5 in msg and actual in msg
    assert "corrupt or not the published file" in msg
    arrays, source = ld.load_cifar10_dir(data_dir, expected_records=3, tar_md5=actual)
    np.testing.assert_array_equal(arrays["x_test"] * 255, parts["test_batch.bin"][1])
    assert source["files"][ld.CIFAR10_TAR]["md5"] == actual
    assert sorted(p.name for p in data_dir.iterdir()) == [ld.CIFAR10_TAR]  # nothing extracted


def test_cifar_tarball_missing_member(tmp_path):
    folder = tmp_path / ld.CIFAR10_DIR
    make_cifar_folder(folder)
    (folder / "test_batch.bin").unlink()
    with tarfile.open(tmp_path / ld.CIFAR10_TAR, "w:gz") as tar:
        tar.add(folder, arcname=ld.CIFAR10_DIR)
    with pytest.raises(DatasetError, match="archive lacks test_batch.bin"):
        ld.load_cifar10_dir(tmp_path, expected_records=3, tar_md5=None)


def test_loaders_never_unpickle():
    src = Path(ld.__file__).read_text() + Path(ld.__file__).with_name("datasets.py").read_text()
    assert "import pickle" not in src and "allow_pickle=True" not in src and "pickle.load" not in src
