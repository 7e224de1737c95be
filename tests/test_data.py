"""Tests of course_lib.data: finding, validating, loading, splitting, scaling."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_lib import data
from course_lib.data import FILES, DataError, DataNotFoundError, IdxFile, Split

REAL_DIR = data.SYSTEM_DATA_DIR  # captured before any test patches it
needs_data = pytest.mark.skipif(
    not all((REAL_DIR / spec.filename).is_file() for spec in FILES.values()),
    reason="Fashion-MNIST is not installed (make test installs dataset-fashion-mnist as root)",
)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No COURSE_DATA_DIR, an empty system dir and an empty Keras cache."""
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(data.files, "SYSTEM_DATA_DIR", tmp_path / "system")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path


def copy_real_files(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for spec in FILES.values():
        shutil.copy(REAL_DIR / spec.filename, dest / spec.filename)
    return dest


def write_idx(path: Path, magic: int, dims: tuple[int, ...], payload: bytes) -> IdxFile:
    """Write a small gzip IDX file and return a spec that accepts it."""
    raw = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload
    path.write_bytes(gzip.compress(raw))
    return IdxFile(path.name, magic, dims[0], hashlib.sha256(raw).hexdigest())


# -- loading ----------------------------------------------------------------


@needs_data
def test_load_returns_canonical_arrays():
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist(download=False)
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)


@needs_data
def test_load_equals_keras_load_data(monkeypatch, tmp_path):
    """Keras, reading the same files from its cache, returns identical arrays."""
    import keras
    from keras.src.datasets import fashion_mnist

    copy_real_files(tmp_path / "datasets" / "fashion-mnist")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(fashion_mnist, "get_file", _cached_get_file(tmp_path))
    ours = data.load_fashion_mnist(download=False)
    theirs = keras.datasets.fashion_mnist.load_data()
    for our_pair, their_pair in zip(ours, theirs):
        for a, b in zip(our_pair, their_pair):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def _cached_get_file(keras_home: Path):
    """A stand-in for keras.utils.get_file that refuses the network."""

    def get_file(fname, origin=None, cache_subdir="datasets", **kwargs):
        path = keras_home / cache_subdir / fname
        assert path.is_file(), f"test tried to download {origin}"
        return str(path)

    return get_file


def test_class_names():
    assert len(data.CLASS_NAMES) == 10
    assert data.CLASS_NAMES[0] == "T-shirt/top" and data.CLASS_NAMES[9] == "Ankle boot"


# -- where it looks -----------------------------------------------------------


@needs_data
def test_course_data_dir_is_the_only_place(isolated, monkeypatch):
    folder = copy_real_files(isolated / "mine")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(folder))
    assert data.locate_fashion_mnist(download=False) == (folder, "$COURSE_DATA_DIR")


def test_course_data_dir_without_files_is_an_error(isolated, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(isolated / "empty"))
    with pytest.raises(DataNotFoundError, match="COURSE_DATA_DIR is set"):
        data.locate_fashion_mnist()


@needs_data
def test_system_dir_comes_before_keras_cache(isolated):
    system = copy_real_files(isolated / "system")
    copy_real_files(isolated / "keras" / "datasets" / "fashion-mnist")
    assert data.locate_fashion_mnist(download=False)[0] == system


@needs_data
def test_keras_cache_is_used(isolated):
    cache = copy_real_files(isolated / "keras" / "datasets" / "fashion-mnist")
    assert data.locate_fashion_mnist(download=False) == (cache, "Keras cache")


def test_missing_everywhere_names_three_remedies(isolated):
    with pytest.raises(DataNotFoundError) as info:
        data.load_fashion_mnist(download=False)
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "COURSE_DATA_DIR" in message
    assert "Keras download" in message


def test_failed_download_is_a_clear_error(isolated, monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(DataNotFoundError, match="download .* failed") as info:
        data.load_fashion_mnist()
    assert "apt-get install dataset-fashion-mnist" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@needs_data
def test_download_uses_keras_get_file_with_keras_urls(isolated, monkeypatch):
    import keras

    calls = []

    def fake_get_file(fname, origin, cache_subdir):
        calls.append((fname, origin, cache_subdir))
        dest = isolated / "keras" / cache_subdir
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(REAL_DIR / fname, dest / fname)
        return str(dest / fname)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    (x_train, _), _ = data.load_fashion_mnist()
    assert x_train.shape == (60000, 28, 28)
    assert [c[0] for c in calls] == [spec.filename for spec in FILES.values()]
    assert all(c[1] == data.files.KERAS_ORIGIN + c[0] for c in calls)
    assert all(c[2] == "datasets/fashion-mnist" for c in calls)


# -- validation ---------------------------------------------------------------


@needs_data
def test_altered_file_fails_the_checksum(tmp_path):
    spec = FILES["train_labels"]
    raw = bytearray(gzip.open(REAL_DIR / spec.filename).read())
    raw[100] = (raw[100] + 1) % 10  # still a valid label
    (tmp_path / spec.filename).write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="checksum"):
        data.read_idx(tmp_path / spec.filename, spec)


@needs_data
def test_truncated_gzip_is_reported(tmp_path):
    spec = FILES["test_images"]
    blob = (REAL_DIR / spec.filename).read_bytes()
    (tmp_path / spec.filename).write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=f"{spec.filename}: not a readable gzip"):
        data.read_idx(tmp_path / spec.filename, spec)


def test_not_gzip_is_reported(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b"this is not gzip")
    with pytest.raises(DataError, match="not a readable gzip"):
        data.read_idx(path, FILES["train_labels"])


def test_wrong_magic_is_reported(tmp_path):
    spec = write_idx(tmp_path / "labels.gz", data.files.IMAGES_MAGIC, (3, 28, 28), bytes(3 * 784))
    labels_spec = IdxFile(spec.filename, data.files.LABELS_MAGIC, 3, spec.sha256)
    with pytest.raises(DataError, match="magic number 2051, expected labels"):
        data.read_idx(tmp_path / "labels.gz", labels_spec)


def test_wrong_count_is_reported(tmp_path):
    spec = write_idx(tmp_path / "labels.gz", data.files.LABELS_MAGIC, (5,), bytes(5))
    with pytest.raises(DataError, match="header says 5 items, expected 7"):
        data.read_idx(tmp_path / "labels.gz", IdxFile(spec.filename, spec.magic, 7, spec.sha256))


def test_wrong_image_size_is_reported(tmp_path):
    spec = write_idx(tmp_path / "images.gz", data.files.IMAGES_MAGIC, (2, 32, 32), bytes(2 * 1024))
    with pytest.raises(DataError, match="images are 32x32, expected 28x28"):
        data.read_idx(tmp_path / "images.gz", spec)


def test_truncated_payload_is_reported(tmp_path):
    spec = write_idx(tmp_path / "images.gz", data.files.IMAGES_MAGIC, (2, 28, 28), bytes(784))
    with pytest.raises(DataError, match="truncated"):
        data.read_idx(tmp_path / "images.gz", spec)


def test_label_out_of_range_is_reported(tmp_path):
    spec = write_idx(tmp_path / "labels.gz", data.files.LABELS_MAGIC, (3,), bytes([1, 12, 3]))
    with pytest.raises(DataError, match="label 12 found"):
        data.read_idx(tmp_path / "labels.gz", spec)


def test_valid_small_file_reads(tmp_path):
    spec = write_idx(tmp_path / "labels.gz", data.files.LABELS_MAGIC, (3,), bytes([1, 9, 3]))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "labels.gz", spec), [1, 9, 3])


# -- command line -------------------------------------------------------------


@needs_data
def test_cli_reports_location(capsys):
    from course_lib.__main__ import main

    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert "sha256 OK" in out and "dataset-fashion-mnist" in out


def test_cli_fails_cleanly_without_data(isolated, capsys):
    from course_lib.__main__ import main

    assert main(["data"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Fashion-MNIST was not found") and "Traceback" not in err


# -- splits and scaling -------------------------------------------------------


def test_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        Split(np.zeros((5, 28, 28)), np.zeros(4, dtype=int), "test")


def test_split_accepts_masks_and_rejects_scalar_labels():
    masks = Split(np.zeros((5, 28, 28)), np.zeros((5, 28, 28), dtype=int), "masks")
    assert len(masks) == 5
    with pytest.raises(ValueError, match="one class index per image"):
        masks.class_counts()
    with pytest.raises(ValueError, match="one entry per image"):
        Split(np.zeros((5, 28, 28)), np.int64(3))


def test_split_take_is_the_first_n_and_sample_is_seeded():
    split = Split(np.arange(10)[:, None], np.arange(10) % 3, "s")
    assert len(split.take(4)) == 4 and split.take(4).y.tolist() == [0, 1, 2, 0]
    assert split.take(None) is split and split.take(100) is split
    sample = split.sample(5, seed=1)
    assert len(sample) == 5 and np.all(sample.x[:, 0] % 3 == sample.y)
    assert sample.x[:, 0].tolist() == split.sample(5, seed=1).x[:, 0].tolist()
    assert sorted(sample.x[:, 0].tolist()) == sample.x[:, 0].tolist()  # original order kept


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda s: s.take(0), ValueError, "n must be an integer >= 1; got 0"),
        (lambda s: s.take(2.5), TypeError, "n must be an integer >= 1; got 2.5"),
        (lambda s: s.take("100"), TypeError, "n must be an integer"),
        (lambda s: s.sample(3, seed=-1), ValueError, "seed must be an integer in"),
        (lambda s: s.sample(3, seed=1.5), TypeError, "seed must be an integer"),
    ],
)
def test_split_take_and_sample_refuse_bad_arguments(call, error, match):
    split = Split(np.arange(10)[:, None], np.arange(10) % 3, "s")
    with pytest.raises(error, match=match):
        call(split)


def test_roles_default_to_the_name_and_survive_every_derivation():
    x, y = np.zeros((40, 28, 28), np.uint8), np.arange(40) % 4
    test = Split(x, y, "test")
    assert (
        test.role == "test"
        and Split(x, y, "valid").role == "valid"
        and Split(x, y, "mine").role == "train"
    )
    assert Split(x, y, "holdout", role="test").role == "test"
    derived = [
        test.take(10),
        test.sample(10, seed=0),
        data.class_subset(test, [1, 3], name="renamed"),
        data.sample_per_class(test, 8, seed=0),
        data.repeat_to(test.take(5), 12, seed=0),
    ]
    assert [s.role for s in derived] == ["test"] * len(derived)
    assert derived[3].name == "test[8]"
    with pytest.raises(ValueError, match="role must be one of"):
        Split(x, y, "s", role="testing")


def test_standardize_keeps_the_roles():
    rng = np.random.default_rng(0)
    splits = data.Splits(
        *(
            Split(rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), np.arange(6) % 3, n)
            for n in ("train", "valid", "test")
        )
    )
    scaled = data.standardize(splits)
    assert [s.role for s in scaled] == ["train", "valid", "test"]
    assert scaled.train.x.shape == (6, 28, 28, 1)
    with pytest.raises(TypeError, match="standardize: splits must be the Splits"):
        data.standardize(splits.train)
    flat = data.Splits(*(s.derive(s.x.reshape(6, -1), s.y) for s in splits))
    with pytest.raises(ValueError, match=r"must hold images of shape \(28, 28\)"):
        data.standardize(flat)


def test_digits_splits_have_roles():
    digits = data.load_digits_splits()
    assert [s.role for s in digits] == ["train", "valid", "test"]
    assert digits.test.name == "digits test" and digits.train.x.shape[1:] == (28, 28, 1)


@needs_data
def test_seed_split_shapes():
    splits = data.load_splits(download=False)
    assert splits.valid.x.shape == (5000, 28, 28)
    assert splits.train.x.shape == (55000, 28, 28)
    assert splits.test.x.shape == (10000, 28, 28)
    assert [s.role for s in splits] == ["train", "valid", "test"]
    (x_train_all, y_train_all), _ = data.load_fashion_mnist(download=False)
    np.testing.assert_array_equal(splits.valid.y, y_train_all[:5000])
    np.testing.assert_array_equal(splits.train.x[0], x_train_all[5000])
    with pytest.raises(TypeError, match="valid_size must be an integer"):
        data.load_splits(valid_size=2500.5, download=False)


@needs_data
def test_standardize_reproduces_the_seed():
    scaled = data.standardize(data.load_splits(download=False))
    assert scaled.train.x.shape == (55000, 28, 28, 1) and scaled.train.x.dtype == np.float32
    # The seed's printout: background pixels at -0.8105136.
    assert repr(scaled.train.x[0, 0, 0, 0]) == "np.float32(-0.8105136)"
    assert abs(float(scaled.train.x.mean())) < 1e-3
    assert abs(float(scaled.train.x.std()) - 1) < 1e-3
    # Validation and test are scaled with the training statistics.
    assert scaled.test.x[0, 0, 0, 0] == scaled.train.x[0, 0, 0, 0]


def test_combine_concatenates_splits_in_order_and_refuses_test_data_by_role():
    a = Split(np.zeros((3, 28, 28), np.uint8), np.array([0, 1, 2]), "train")
    b = Split(np.ones((2, 28, 28), np.uint8), np.array([3, 4]), "valid")
    both = data.combine(a, b)
    assert both.name == "train" and both.role == "train" and both.x.shape == (5, 28, 28)
    assert list(both.y) == [0, 1, 2, 3, 4] and both.x[3:].min() == 1
    for test in (
        Split(b.x, b.y, "test"),
        Split(b.x, b.y, "holdout", role="test"),
        Split(b.x, b.y, "test").take(1),
    ):
        with pytest.raises(ValueError, match="must not be test data"):
            data.combine(a, test)
    with pytest.raises(ValueError, match="differ in shape"):
        data.combine(a, Split(np.zeros((2, 32, 32), np.uint8), b.y, "valid"))
    with pytest.raises(ValueError, match="at least one"):
        data.combine()
    with pytest.raises(TypeError, match="must be a course_lib.data.Split"):
        data.combine(a, (b.x, b.y))


def test_sample_per_class_is_balanced_and_seeded():
    split = Split(np.arange(100)[:, None], np.arange(100) % 4, "pool")
    sample = data.sample_per_class(split, 10, seed=3)
    assert sorted(np.bincount(sample.y).tolist()) == [2, 2, 3, 3]
    assert np.array_equal(sample.x, data.sample_per_class(split, 10, seed=3).x)
    with pytest.raises(ValueError, match="n must be an integer >= 4"):
        data.sample_per_class(split, 3)


def test_class_subset_relabels_and_checks_classes():
    split = Split(np.arange(30)[:, None], np.arange(30) % 3, "s")
    sub = data.class_subset(split, [2, 0])
    assert set(sub.y.tolist()) == {0, 1} and np.all(sub.x[sub.y == 0, 0] % 3 == 2)
    with pytest.raises(TypeError, match="every class must be an integer"):
        data.class_subset(split, [0.5, 2])
    with pytest.raises(ValueError, match="at least 2 classes"):
        data.class_subset(split, [1])


# -- class subsets, per-class samples, repeats, digits ---------------------------


def labelled_split(n: int = 60, classes: int = 10, seed: int = 0, name: str = "train") -> Split:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, 28, 28, 1)).astype("float32") + y[:, None, None, None].astype("float32")
    return Split(x, y, name)


def test_class_subset_relabels_in_the_order_given():
    sub = data.class_subset(labelled_split(30), (6, 0), name="pair")
    assert len(sub) == 6 and sub.name == "pair"
    assert sorted(set(sub.y.tolist())) == [0, 1]
    # label 0 is the old class 6: its images carry the offset 6
    np.testing.assert_allclose(sub.x[sub.y == 0].mean(), 6, atol=0.5)
    np.testing.assert_allclose(sub.x[sub.y == 1].mean(), 0, atol=0.5)


@pytest.mark.parametrize(
    "classes, error, match",
    [
        ((1, 1), ValueError, "distinct"),
        ((1, 12), ValueError, r"no image of class \[12\]"),
        ("ab", TypeError, "class indices"),
    ],
)
def test_class_subset_rejects_bad_classes(classes, error, match):
    with pytest.raises(error, match=match):
        data.class_subset(labelled_split(30), classes)


def test_sample_per_class_is_shuffled_and_depends_on_the_seed():
    split = labelled_split(100, classes=4)
    a = data.sample_per_class(split, 10, seed=3)
    c = data.sample_per_class(split, 10, seed=4)
    assert not np.array_equal(a.x, c.x)
    assert not np.all(np.diff(a.y) >= 0), "examples should be shuffled, not sorted by class"
    assert np.bincount(data.sample_per_class(split, 12, seed=0).y).tolist() == [3, 3, 3, 3]
    with pytest.raises(ValueError, match="class 0 of 'train' has 5 images, 6 were asked for"):
        data.sample_per_class(labelled_split(20, classes=4), 24)


def test_repeat_to_fills_an_epoch_with_shuffled_copies():
    split = labelled_split(10)
    big = data.repeat_to(split, 25, seed=0)
    assert len(big) == 30
    assert np.bincount(big.y).tolist() == [3] * 10
    assert not np.array_equal(big.y[:10], big.y[10:20]), "each copy in its own order"
    assert data.repeat_to(split, 5) is split


def test_load_digits_splits_look_like_fashion_mnist():
    digits = data.load_digits_splits()
    assert [len(s) for s in digits] == [900, 100, 797]
    assert digits.train.x.shape[1:] == (28, 28, 1) and digits.train.x.dtype == np.float32
    assert abs(float(digits.train.x.mean())) < 1e-3 and abs(float(digits.train.x.std()) - 1) < 1e-3
    assert set(digits.test.y.tolist()) == set(range(10))
    with pytest.raises(ValueError, match=r"test_size must be an integer in \[100, 1497\]"):
        data.load_digits_splits(test_size=10)


# -- data errors that name the remedy ----------------------------------------


def test_missing_folder_is_named(isolated, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(isolated / "nowhere"))
    with pytest.raises(DataNotFoundError, match=r"is set, but .*nowhere does not exist\.\n"):
        data.locate_fashion_mnist()


def test_missing_files_are_named(isolated, monkeypatch):
    folder = isolated / "mine"
    folder.mkdir()
    for spec in list(FILES.values())[:2]:
        (folder / spec.filename).write_bytes(b"")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(folder))
    with pytest.raises(DataNotFoundError) as info:
        data.locate_fashion_mnist()
    first_line = str(info.value).splitlines()[0]
    assert first_line.endswith(
        "lacks t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz "
        "(the other 2 files are there)."
    ), first_line


def test_each_searched_folder_says_what_it_lacks(isolated):
    system = isolated / "system"
    system.mkdir()
    (system / FILES["train_images"].filename).write_bytes(b"")
    with pytest.raises(DataNotFoundError) as info:
        data.locate_fashion_mnist(download=False)
    message = str(info.value)
    assert f"{system} (Debian package dataset-fashion-mnist): lacks train-labels" in message
    cache = isolated / "keras" / "datasets" / "fashion-mnist"
    assert f"{cache} (Keras cache): does not exist" in message


@pytest.mark.parametrize(
    "key, count, other",
    [
        ("train_images", 10_000, "t10k-images-idx3-ubyte.gz"),
        ("test_labels", 60_000, "train-labels-idx1-ubyte.gz"),
    ],
)
def test_swapped_train_and_test_files_are_named(tmp_path, key, count, other):
    spec = FILES[key]
    dims = (count, 28, 28) if spec.magic == data.files.IMAGES_MAGIC else (count,)
    write_idx(tmp_path / spec.filename, spec.magic, dims, b"")  # the header decides
    with pytest.raises(DataError) as info:
        data.read_idx(tmp_path / spec.filename, spec)
    message = str(info.value)
    assert f"header says {count:,} items, expected {spec.count:,}" in message
    assert f"the count of {other}" in message and "look swapped" in message


@pytest.fixture(scope="module")
def unprivileged(tmp_path_factory) -> list[str]:
    """A command prefix that runs without root's power to ignore file modes.

    The tests run as root, which reads any file whatever its mode. As root,
    ``setpriv`` drops every capability (CAP_DAC_OVERRIDE included) from the
    command it starts; the prefix is probed on a file of mode 000 first.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, which ignores file modes, and setpriv is not installed")
    prefix = [setpriv, "--inh-caps=-all", "--bounding-set=-all"]
    probe = tmp_path_factory.mktemp("probe") / "locked"
    probe.write_text("secret")
    probe.chmod(0)
    result = subprocess.run(
        [*prefix, sys.executable, "-c", "import sys; open(sys.argv[1])", str(probe)],
        capture_output=True,
        text=True,
    )
    if "PermissionError" not in result.stderr:
        pytest.skip(f"running as root and setpriv cannot drop root's capabilities: {result}")
    return prefix


@pytest.fixture
def lock():
    """``lock(path)`` makes a path unreadable (mode 000) until the test ends."""
    locked = []

    def lock(path: Path) -> Path:
        locked.append((path, path.stat().st_mode))
        path.chmod(0)
        return path

    yield lock
    for path, mode in reversed(locked):
        path.chmod(mode)


CLI_SCRIPT = """\
import sys
from pathlib import Path
from course_lib.data import files
from course_lib.__main__ import main
files.SYSTEM_DATA_DIR = Path(sys.argv[1])
sys.exit(main(["data"]))
"""


def run_cli(prefix: list[str], tmp_path: Path, system: Path, data_dir: Path | None = None):
    """Run ``python -m course_lib data`` with the given system folder (and COURSE_DATA_DIR)."""
    env = {k: v for k, v in os.environ.items() if k != data.DATA_DIR_ENV}
    env["KERAS_HOME"] = str(tmp_path / "keras")
    if data_dir is not None:
        env[data.DATA_DIR_ENV] = str(data_dir)
    return subprocess.run(
        [*prefix, sys.executable, "-c", CLI_SCRIPT, str(system)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_names_an_unreadable_data_folder(unprivileged, lock, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    lock(folder)  # mode 000: Path.is_file() on a file in it raises PermissionError
    result = run_cli(unprivileged, tmp_path, tmp_path / "system", data_dir=folder)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"error: COURSE_DATA_DIR is set, but {folder} cannot be read")
    assert "permission denied" in result.stderr
    assert f"chmod -R a+rX {folder}" in result.stderr


def test_cli_passes_over_an_unreadable_system_folder(unprivileged, lock, tmp_path):
    system = tmp_path / "system"
    system.mkdir()
    lock(system)
    result = run_cli(unprivileged, tmp_path, system)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: Fashion-MNIST was not found")
    assert f"{system} (Debian package dataset-fashion-mnist): cannot be read" in result.stderr


@needs_data
def test_cli_finds_the_keras_cache_behind_an_unreadable_system_folder(unprivileged, lock, tmp_path):
    system = tmp_path / "system"
    system.mkdir()
    lock(system)
    cache = copy_real_files(tmp_path / "keras" / "datasets" / "fashion-mnist")
    result = run_cli(unprivileged, tmp_path, system)
    assert result.returncode == 0, result.stderr
    assert f"Fashion-MNIST found in {cache} (Keras cache)." in result.stdout


def test_cli_names_an_unreadable_file_as_a_permission_problem(unprivileged, lock, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    for spec in FILES.values():
        (folder / spec.filename).write_bytes(b"not read")
    path = lock(folder / FILES["train_images"].filename)
    result = run_cli(unprivileged, tmp_path, tmp_path / "system", data_dir=folder)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"error: {path}: cannot be read by this user")
    assert "permission denied" in result.stderr and f"chmod a+r {path}" in result.stderr
    assert "Delete it" not in result.stderr


# -- [hardening] splits: nothing silently wrong -------------------------------


def test_combine_refuses_raw_and_standardized_images_together():
    raw = Split(np.full((3, 28, 28), 255, np.uint8), np.array([0, 1, 2]), "train")
    scaled = Split(np.full((2, 28, 28), 2.08, np.float32), np.array([3, 4]), "valid")
    with pytest.raises(ValueError) as info:
        data.combine(raw, scaled)
    message = str(info.value)
    assert message.startswith(
        "combine: the splits' images must be all raw pixels or all standardized; split 'train' "
        "has uint8 images, split 'valid' float32."
    )
    assert "Standardize both or neither" in message
    # the same kind of values combines (two float dtypes too)
    both = data.combine(scaled, scaled.derive(scaled.x.astype(np.float64), scaled.y))
    assert both.x.dtype.kind == "f" and len(both) == 4


def test_combine_refuses_integer_and_float_labels_together():
    x = np.zeros((2, 28, 28), np.uint8)
    ints = Split(x, np.array([0, 1]), "train")
    floats = Split(x, np.array([2.0, 3.0]), "valid")
    with pytest.raises(
        ValueError,
        match=r"combine: the splits' labels must all be integer class "
        r"indices; split 'valid' has float64 labels\. .*y\.astype\(np\.int64\)",
    ):
        data.combine(ints, floats)
    mixed = data.combine(ints, ints.derive(x, np.array([2, 3], np.uint8)))
    assert mixed.y.dtype.kind == "i" and mixed.y.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("label, shown", [(10, "from 0 to 10"), (-1, "from -1 to 2")])
def test_class_counts_refuses_labels_outside_the_ten_classes(label, shown):
    split = Split(np.zeros((4, 28, 28), np.uint8), np.array([0, 1, 2, label]), "train")
    with pytest.raises(
        ValueError,
        match=r"Split\.class_counts: the labels of the split must be "
        rf"class indices in 0\.\.9 \(10 classes\); .*1 label outside .*\({shown}\)",
    ):
        split.class_counts()
    counts = Split(split.x, np.array([0, 9, 9, 3]), "s").class_counts()
    assert counts.tolist() == [1, 0, 0, 1, 0, 0, 0, 0, 0, 2]


def test_fit_scaler_refuses_an_array():
    with pytest.raises(TypeError, match="fit_scaler: train must be a course_lib.data.Split"):
        data.fit_scaler(np.zeros((3, 28, 28), np.uint8))
