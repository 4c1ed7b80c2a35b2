"""cnnbook.data: the embedded 5k split, and the full-MNIST download against a local HTTP server only."""

import gzip
import hashlib
import http.server
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnbook import data
from cnnbook.data import download_mnist, load_mnist, parse_idx


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# ---------------------------------------------------------------------------------------- 5k split
@pytest.fixture(scope="module")
def cache_5k(tmp_path_factory):
    """One CNNBOOK_CACHE for the 5k tests, so the CSV is parsed once for both splits."""
    folder = tmp_path_factory.mktemp("cache5k")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CNNBOOK_CACHE", str(folder))
        yield folder


def test_5k_split_sizes_types_range_and_stratification(cache_5k):
    for split, n, per_digit in (("train", 4000, 400), ("test", 1000, 100)):
        x, y = load_mnist(split=split)
        assert x.shape == (n, 1, 28, 28) and x.dtype == torch.float32
        assert y.shape == (n,) and y.dtype == torch.int64
        assert 0.0 <= x.min().item() and x.max().item() <= 1.0 and x.max().item() > 0.99
        assert torch.equal(torch.bincount(y, minlength=10), torch.full((10,), per_digit))


def _cache_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("mnist_5k-*.npz"))


def test_5k_split_is_deterministic_disjoint_and_cached(cache_5k):
    xa, ya = load_mnist(split="train")
    [path] = _cache_files(cache_5k)  # written to CNNBOOK_CACHE, one file
    path.unlink()
    xb, yb = load_mnist(split="train")  # rebuilt from the CSV: same split
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    xc, _ = load_mnist(split="train")  # read from the cache: same again
    assert torch.equal(xa, xc)
    xt, _ = load_mnist(split="test")
    train_rows = {r.tobytes() for r in (xa.numpy() * 255).astype(np.uint8)}
    assert sum(r.tobytes() in train_rows for r in (xt.numpy() * 255).astype(np.uint8)) == 0  # disjoint


# ---------------------------------------------------------------------------------------- the cache heals
@pytest.fixture(scope="module")
def good_arrays():
    arrays = data._split_5k()
    arrays["digest"] = np.array(data._digest(arrays))
    return arrays


def _write_npz(path: Path, arrays: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _damaged(kind: str, good: dict, path: Path) -> None:
    """Write a cache file damaged in one way at `path`."""
    _write_npz(path, good)
    blob = path.read_bytes()
    a = {k: v.copy() for k, v in good.items()}
    if kind == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "one flipped byte (bad CRC)":
        middle = len(blob) // 2
        path.write_bytes(blob[:middle] + bytes([blob[middle] ^ 0xFF]) + blob[middle + 1:])
    elif kind == "10 training images":
        a["x_train"] = a["x_train"][:10]
        _write_npz(path, a)
    elif kind == "10 labels for 4000 images":
        a["y_train"] = a["y_train"][:10]
        _write_npz(path, a)
    elif kind == "float images":
        a["x_train"] = a["x_train"].astype(np.float32)
        _write_npz(path, a)
    elif kind == "rescaled pixels":
        a["x_test"] = a["x_test"] // 2
        _write_npz(path, a)
    elif kind == "labels out of range":
        a["y_test"][0] = 11
        _write_npz(path, a)
    elif kind == "shuffled labels":
        a["y_train"] = np.random.default_rng(0).permutation(a["y_train"])
        _write_npz(path, a)
    elif kind == "missing array":
        del a["y_test"]
        _write_npz(path, a)
    else:
        raise AssertionError(kind)


DAMAGE = ["truncated", "empty", "one flipped byte (bad CRC)", "10 training images", "10 labels for 4000 images",
          "float images", "rescaled pixels", "labels out of range", "shuffled labels", "missing array"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_cache_is_reported_once_and_rebuilt(kind, good_arrays, cache):
    load_mnist()  # writes the cache
    [path] = _cache_files(cache)
    _damaged(kind, good_arrays, path)
    with pytest.warns(data.CacheWarning, match="rebuilding it") as record:
        x, y = load_mnist(split="test")
    assert len([w for w in record if issubclass(w.category, data.CacheWarning)]) == 1
    assert torch.equal(y, torch.from_numpy(good_arrays["y_test"]))
    assert torch.equal(x[:, 0], torch.from_numpy(good_arrays["x_test"]).float() / 255)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # healed: the next load is silent
        assert torch.equal(load_mnist(split="train")[1], torch.from_numpy(good_arrays["y_train"]))
    assert data._read_cache(path)[0] is not None


def test_the_cache_key_covers_the_split_parameters(cache, monkeypatch):
    load_mnist()
    [default] = _cache_files(cache)
    monkeypatch.setattr(data, "TEST_PER_CLASS", 50)
    x, y = load_mnist(split="test")
    assert len(y) == 500 and torch.equal(torch.bincount(y), torch.full((10,), 50))
    monkeypatch.setattr(data, "SPLIT_SEED", 1)
    _, y1 = load_mnist(split="test")
    assert len(_cache_files(cache)) == 3 and default in _cache_files(cache)  # one file per split definition


def test_unwritable_cache_folder_still_loads_in_memory_with_a_warning_naming_the_variable(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CNNBOOK_CACHE", str(blocker / "cache"))  # cannot be created under a file
    with pytest.warns(data.CacheWarning, match="CNNBOOK_CACHE"):
        x, y = load_mnist(split="test")
    assert x.shape == (1000, 1, 28, 28) and len(y) == 1000


def test_missing_home_still_loads_in_memory_with_a_warning(monkeypatch):
    for name in ("CNNBOOK_CACHE", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)

    def no_home(cls=None):
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(data.Path, "home", classmethod(no_home))
    with pytest.raises(RuntimeError):
        data.cache_dir()
    with pytest.warns(data.CacheWarning, match="CNNBOOK_CACHE"):
        _, y = load_mnist(split="test")
    assert len(y) == 1000


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664)])
def test_cache_files_honour_the_umask_so_a_class_can_share_them(umask, mode, cache):
    old = os.umask(umask)
    try:
        load_mnist()
    finally:
        os.umask(old)
    [path] = _cache_files(cache)
    assert path.stat().st_mode & 0o777 == mode


def test_concurrent_writers_leave_one_valid_file_and_no_temp_files(cache):
    results, errors = [], []

    def load():
        try:
            results.append(data._mnist_5k_arrays())
        except Exception as err:  # collected and reported by the assert below
            errors.append(err)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    assert all(np.array_equal(r["y_train"], results[0]["y_train"]) for r in results)
    assert [p.suffix for p in cache.iterdir()] == [".npz"]  # one file, no .part left
    assert data._read_cache(_cache_files(cache)[0])[0] is not None


def test_bad_subset_or_split_names_the_choices():
    with pytest.raises(ValueError, match="'5k' is embedded"):
        load_mnist(subset="60k")
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_mnist(split="validation")


def test_first_per_class_picks_each_digit_in_order(cache_5k):
    """The embedded split is sorted by digit (the first 400 training images are all 0); first_per_class
    must return every class, in class order, each index pointing at an image of that class."""
    _, y = load_mnist(split="train")
    assert (y[:400] == 0).all()  # why the helper exists
    idx = data.first_per_class(y, per_class=2)
    assert idx.shape == (20,)
    assert y[idx].tolist() == [d for d in range(10) for _ in range(2)]
    assert torch.equal(data.first_per_class(torch.tensor([2, 0, 1, 0, 2])), torch.tensor([1, 2, 0]))


def test_first_per_class_explains_bad_input():
    with pytest.raises(ValueError, match="1-D integer tensor"):
        data.first_per_class(torch.zeros(3, 2, dtype=torch.long))        # the right kind, the wrong shape
    with pytest.raises(TypeError, match="1-D integer tensor"):
        data.first_per_class(torch.tensor([0.0, 1.0]))                    # the wrong kind
    with pytest.raises(ValueError, match="fewer than per_class=2"):
        data.first_per_class(torch.tensor([0, 0, 1]), per_class=2)
    with pytest.raises(ValueError, match="per_class must be an int >= 1"):
        data.first_per_class(torch.tensor([0, 1]), per_class=0)


# ---------------------------------------------------------------------------------------- IDX parser
def _idx(array: np.ndarray) -> bytes:
    magic = 0x800 + array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_parse_idx_round_trips_and_rejects_bad_magic_and_size():
    a = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    assert np.array_equal(parse_idx(_idx(a)), a)
    with pytest.raises(ValueError, match="magic number"):
        parse_idx(b"\x00\x00\x09\x99" + _idx(a)[4:])
    with pytest.raises(ValueError, match="header says shape"):
        parse_idx(_idx(a)[:-10])


# ---------------------------------------------------------------------------------------- full MNIST
def _make_fake_mnist(folder: Path) -> tuple[dict, dict]:
    """Write small IDX .gz files (20 train / 10 test) under MNIST's names; return (arrays, name -> MD5)."""
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), "y_train": rng.integers(0, 10, 20),
              "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), "y_test": rng.integers(0, 10, 10)}
    folder.mkdir(parents=True, exist_ok=True)
    md5 = {}
    for name, key in zip(data.FILES, ("x_train", "y_train", "x_test", "y_test")):
        blob = gzip.compress(_idx(arrays[key]), mtime=0)
        (folder / name).write_bytes(blob)
        md5[name] = hashlib.md5(blob).hexdigest()
    return arrays, md5


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on a free port serving tmp_path/www; yields its base URL."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(www), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", www
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_full_mnist_downloads_verifies_and_parses(server, cache, monkeypatch):
    url, www = server
    arrays, md5 = _make_fake_mnist(www / "good")
    monkeypatch.setattr(data, "MIRRORS", (url + "good/",))
    monkeypatch.setattr(data, "FILES", md5)
    x, y = load_mnist(subset="full", split="train")
    assert x.shape == (20, 1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(x[:, 0], torch.from_numpy(arrays["x_train"]).float() / 255)
    assert torch.equal(y, torch.from_numpy(arrays["y_train"]).long())
    xt, yt = load_mnist(subset="full", split="test")
    assert xt.shape == (10, 1, 28, 28) and torch.equal(yt, torch.from_numpy(arrays["y_test"]).long())
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(md5)  # no .part files left


def test_corrupt_file_on_first_mirror_falls_back_to_next(server, tmp_path):
    url, www = server
    _, md5 = _make_fake_mnist(www / "good")
    _make_fake_mnist(www / "bad")
    (www / "bad" / "train-labels-idx1-ubyte.gz").write_bytes(b"not the file")
    root = download_mnist(tmp_path / "root", mirrors=(url + "bad/", url + "good/"), files=md5)
    assert all(data._md5(root / name) == m for name, m in md5.items())


def test_truncated_file_is_rejected_and_next_mirror_used(server, tmp_path):
    url, www = server
    _, md5 = _make_fake_mnist(www / "good")
    _make_fake_mnist(www / "cut")
    blob = (www / "good" / "train-images-idx3-ubyte.gz").read_bytes()
    (www / "cut" / "train-images-idx3-ubyte.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(RuntimeError, match="expected"):  # alone, the truncated mirror fails its checksum
        download_mnist(tmp_path / "a", mirrors=(url + "cut/",), files=md5)
    assert not (tmp_path / "a" / "train-images-idx3-ubyte.gz").exists()  # nothing half-written left
    root = download_mnist(tmp_path / "b", mirrors=(url + "cut/", url + "good/"), files=md5)
    assert (root / "train-images-idx3-ubyte.gz").read_bytes() == blob


def test_404_mirror_then_good_mirror(server, tmp_path):
    url, www = server
    _, md5 = _make_fake_mnist(www / "good")
    root = download_mnist(tmp_path / "root", mirrors=(url + "missing/", url + "good/"), files=md5)
    assert all(data._md5(root / name) == m for name, m in md5.items())


def test_corrupt_cached_file_is_detected_and_replaced(server, tmp_path):
    url, www = server
    _, md5 = _make_fake_mnist(www / "good")
    root = download_mnist(tmp_path / "root", mirrors=(url + "good/",), files=md5)
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    download_mnist(root, mirrors=(url + "good/",), files=md5)
    assert data._md5(root / "t10k-labels-idx1-ubyte.gz") == md5["t10k-labels-idx1-ubyte.gz"]


def test_all_mirrors_failing_raises_one_error_naming_the_5k_subset(server, cache, monkeypatch):
    url, www = server
    _, md5 = _make_fake_mnist(www.parent / "unserved")  # checksums of files no mirror has
    monkeypatch.setattr(data, "MIRRORS", (url + "missing/", "http://127.0.0.1:9/"))  # 404, then refused
    monkeypatch.setattr(data, "FILES", md5)
    with pytest.raises(RuntimeError, match='subset="5k"') as info:
        load_mnist(subset="full")
    assert "404" in str(info.value)


def test_the_cache_key_hashes_the_content_of_the_csv_not_its_length(tmp_path, monkeypatch):
    one, two = tmp_path / "one.csv.gz", tmp_path / "two.csv.gz"
    one.write_bytes(b"a" * 100)
    two.write_bytes(b"b" * 100)                                 # the same length, other content
    monkeypatch.setattr(data, "_csv_path", lambda: one)
    key_one = data._cache_key()
    monkeypatch.setattr(data, "_csv_path", lambda: two)
    assert data._cache_key() != key_one


def test_the_cache_key_reads_an_unchanged_csv_once_per_process(tmp_path, monkeypatch):
    source = tmp_path / "same.csv.gz"
    source.write_bytes(b"c" * 100)
    reads = []

    class Counting(type(source)):
        def read_bytes(self):
            reads.append(1)
            return super().read_bytes()

    monkeypatch.setattr(data, "_csv_path", lambda: Counting(source))
    first = data._cache_key()
    assert data._cache_key() == first and len(reads) == 1
    os.utime(source, ns=(1, 1))                                 # touched: hashed again
    assert data._cache_key() == first and len(reads) == 2


def test_per_class_indices_takes_each_class_in_the_given_order_after_the_offset():
    labels = torch.tensor([1, 0, 1, 0, 1, 0, 2, 2])
    assert data.per_class_indices(labels, 2).tolist() == [1, 3, 0, 2, 6, 7]
    assert data.per_class_indices(labels, 1, offset=1).tolist() == [3, 2, 7]
    order = torch.arange(8).flip(0)
    assert data.per_class_indices(labels, 1, order=order).tolist() == [5, 4, 7]
    a = data.per_class_indices(labels, 2, generator=torch.Generator().manual_seed(0))
    assert sorted(a.tolist()) == [0, 1, 2, 3, 6, 7] or len(set(a.tolist())) == 6
    with pytest.raises(ValueError, match="class 2 has 2 example"):
        data.per_class_indices(labels, 2, offset=1)
    with pytest.raises(ValueError, match="offset must be an int >= 0"):
        data.per_class_indices(labels, 1, offset=-1)
    with pytest.raises(ValueError, match="permutation"):
        data.per_class_indices(labels, 1, order=torch.arange(3))


def test_the_data_constants_name_the_subsets_splits_and_cache_format():
    assert data.SUBSETS == ("5k", "full") and data.SPLITS == ("train", "test") and data.CACHE_FORMAT >= 2
    with pytest.raises(ValueError):
        load_mnist("small")
