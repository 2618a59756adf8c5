"""coursekit.datasets: mirror, download, verification, safe extraction, offline errors.

Small archives are built here from real JPEG bytes of the course dataset when the mirror is
present, else from images Pillow writes; they are served over a file:// mirror, a folder and an
HTTP server on 127.0.0.1 that the tests start.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import socket
import stat
import sys
import threading
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from coursekit import config, datasets, downloads

# ------------------------------------------------------------------ building test archives


def _jpeg_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def _tiny_files() -> dict[str, bytes]:
    files = {}
    for split, count in (("train", 3), ("validation", 2)):
        for label in ("cats", "dogs"):
            for index in range(count):
                files[f"tiny/{split}/{label}/{label[:-1]}.{index}.jpg"] = _jpeg_bytes(len(files))
    return files


def _zip(path: Path, files: dict[str, bytes], extra=()) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
        for info, data in extra:
            zipped.writestr(info, data)
    return path


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """Register a 'tiny' dataset (10 JPEGs) whose archive is in tmp_path/mirror."""
    files = _tiny_files()
    digest = tmp_path / "tiny.sha256"
    digest.write_text("".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                              for name, data in sorted(files.items())))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _zip(mirror / "tiny.zip", files)
    entry = datasets.Dataset(
        name="tiny", url="http://127.0.0.1:9/tiny.zip", archive="tiny.zip", size="3 KB",
        digest=str(digest), license="test data", citation="", quick_per_class={"train": 2, "validation": 1})
    monkeypatch.setitem(datasets.DATASETS, "tiny", entry)
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("COURSEKIT_MIRROR", raising=False)
    monkeypatch.delenv("COURSEKIT_QUICK", raising=False)
    return {"files": files, "mirror": mirror, "entry": entry, "tmp": tmp_path}


class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate = False

    def log_message(self, *args):  # keep test output clean
        pass

    def copyfile(self, source, outputfile):
        if self.truncate:  # send half of the body after announcing the full length
            data = source.read()
            outputfile.write(data[: len(data) // 2])
            return
        super().copyfile(source, outputfile)


@pytest.fixture
def http_server():
    """Start an HTTP server on 127.0.0.1 serving a folder; yields a function(folder, truncate)."""
    servers = []

    def start(folder: Path, truncate: bool = False) -> str:
        handler = type("Handler", (_Handler,), {"truncate": truncate})
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(handler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _leftovers(data_dir: Path) -> list[str]:
    """Files that must never stay in the cache: partial downloads and temporary folders."""
    if not data_dir.exists():
        return []
    return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*")
                  if p.name.endswith(".part") or p.name.startswith(".tiny-"))


# ------------------------------------------------------------------ happy paths


def test_load_from_mirror_folder_verifies_and_caches(tiny, monkeypatch):
    monkeypatch.setenv("COURSEKIT_MIRROR", str(tiny["mirror"]))
    root = datasets.load("tiny")
    assert root == tiny["tmp"] / "data" / "tiny"
    for name, data in tiny["files"].items():
        assert (root.parent / name).read_bytes() == data
    # Second call: served from the verified cache even with the mirror gone.
    (tiny["mirror"] / "tiny.zip").unlink()
    assert datasets.load("tiny") == root


def test_load_from_file_url_mirror(tiny, monkeypatch):
    monkeypatch.setenv("COURSEKIT_MIRROR", tiny["mirror"].as_uri())
    root = datasets.load("tiny")
    assert sorted(p.name for p in (root / "train").iterdir()) == ["cats", "dogs"]


def test_load_over_http_mirror_and_from_download_url(tiny, monkeypatch, http_server):
    base = http_server(tiny["mirror"])
    monkeypatch.setenv("COURSEKIT_MIRROR", base)
    root = datasets.load("tiny")
    assert len(list(root.rglob("*.jpg"))) == 10

    # Same again through the dataset's own URL (no mirror), as a student online would.
    other = tiny["tmp"] / "data2"
    monkeypatch.setenv("COURSEKIT_DATA", str(other))
    monkeypatch.delenv("COURSEKIT_MIRROR")
    monkeypatch.setitem(datasets.DATASETS, "tiny",
                        datasets.Dataset(**{**tiny["entry"].__dict__, "url": base + "/tiny.zip"}))
    assert len(list(datasets.load("tiny").rglob("*.jpg"))) == 10
    assert (other / "downloads" / "tiny.zip").is_file()  # kept for offline re-use
    assert _leftovers(other) == []


def test_quick_subset_is_deterministic_and_real(tiny, monkeypatch):
    monkeypatch.setenv("COURSEKIT_MIRROR", str(tiny["mirror"]))
    monkeypatch.setenv("COURSEKIT_QUICK", "1")
    quick = datasets.load("tiny")
    names = sorted(p.relative_to(quick).as_posix() for p in quick.rglob("*.jpg"))
    assert names == ["train/cats/cat.0.jpg", "train/cats/cat.1.jpg", "train/dogs/dog.0.jpg",
                     "train/dogs/dog.1.jpg", "validation/cats/cat.0.jpg",
                     "validation/dogs/dog.0.jpg"]
    for name in names:
        assert (quick / name).read_bytes() == tiny["files"]["tiny/" + name]
    assert datasets.load("tiny", quick=False).name == "tiny"


def test_tampered_cache_is_detected_and_rebuilt(tiny, monkeypatch):
    monkeypatch.setenv("COURSEKIT_MIRROR", str(tiny["mirror"]))
    root = datasets.load("tiny")
    victim = root / "train" / "cats" / "cat.0.jpg"
    victim.write_bytes(b"not the image")
    assert datasets.load("tiny") == root
    assert victim.read_bytes() == tiny["files"]["tiny/train/cats/cat.0.jpg"]


# ------------------------------------------------------------------ bad input


def test_checksum_mismatch_leaves_nothing_in_cache(tiny, monkeypatch, http_server):
    bad = dict(tiny["files"])
    bad["tiny/train/cats/cat.0.jpg"] = _jpeg_bytes(999)  # a real JPEG, but not the right one
    served = tiny["tmp"] / "served"
    served.mkdir()
    _zip(served / "tiny.zip", bad)
    monkeypatch.setenv("COURSEKIT_MIRROR", http_server(served))
    with pytest.raises(datasets.DatasetUnavailable, match="checksum mismatch: train/cats/cat.0.jpg"):
        datasets.load("tiny")
    data = tiny["tmp"] / "data"
    assert not (data / "tiny").exists()
    assert not (data / "downloads" / "tiny.zip").exists()  # our corrupt download is not kept
    assert _leftovers(data) == []


def test_stray_file_in_class_folder_is_rejected(tiny, monkeypatch):
    files = dict(tiny["files"])
    files["tiny/train/cats/notes.txt"] = b"not an image"
    _zip(tiny["mirror"] / "tiny.zip", files)
    monkeypatch.setenv("COURSEKIT_MIRROR", str(tiny["mirror"]))
    with pytest.raises(datasets.DatasetUnavailable, match="unexpected file: train/cats/notes.txt"):
        datasets.load("tiny")


def test_truncated_download_leaves_no_partial_file(tiny, monkeypatch, http_server):
    monkeypatch.setenv("COURSEKIT_MIRROR", http_server(tiny["mirror"], truncate=True))
    with pytest.raises(datasets.DatasetUnavailable, match=r"IncompleteRead\(\d+ bytes read"):
        datasets.load("tiny")
    data = tiny["tmp"] / "data"
    assert not (data / "downloads" / "tiny.zip").exists()
    assert _leftovers(data) == []


def test_download_verifies_sha256_and_cleans_up(tmp_path, http_server):
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "f.bin").write_bytes(b"payload")
    base = http_server(tmp_path / "served")
    target = tmp_path / "cache" / "f.bin"
    with pytest.raises(downloads.ChecksumError):
        downloads.download(base + "/f.bin", target, sha256="0" * 64, progress=False)
    assert list((tmp_path / "cache").iterdir()) == []
    good = hashlib.sha256(b"payload").hexdigest()
    assert downloads.download(base + "/f.bin", target, sha256=good).read_bytes() == b"payload"


def test_archive_members_never_land_outside_and_links_stay_files(tiny, monkeypatch):
    """zipfile strips '..' and '/' from member names and writes links as plain files; verification
    then reports the member it does not expect instead of using it."""
    link = zipfile.ZipInfo("tiny/train/cats/link.jpg")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    evil = {"../evil.txt": b"evil", "tiny/../../evil.txt": b"evil", "/evil.txt": b"evil"}
    _zip(tiny["mirror"] / "tiny.zip", {**tiny["files"], **evil}, extra=[(link, "/etc/passwd")])
    monkeypatch.setenv("COURSEKIT_MIRROR", str(tiny["mirror"]))
    with pytest.raises(datasets.DatasetUnavailable, match="unexpected file: train/cats/link.jpg"):
        datasets.load("tiny")
    assert not list(tiny["tmp"].rglob("evil.txt")) and not Path("/evil.txt").exists()
    assert not list((tiny["tmp"] / "data").rglob("*.jpg"))  # nothing replaced the cache


def test_corrupt_archive_placed_by_hand_is_reported_not_deleted(tiny):
    folder = tiny["tmp"] / "data" / "downloads"
    folder.mkdir(parents=True)
    (folder / "tiny.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(downloads.ChecksumError, match="Move it away"):
        datasets.load("tiny")
    assert (folder / "tiny.zip").exists()  # never delete what the student put there


def test_archive_placed_by_hand_is_used_offline(tiny):
    downloads = tiny["tmp"] / "data" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "tiny.zip").write_bytes((tiny["mirror"] / "tiny.zip").read_bytes())
    assert len(list(datasets.load("tiny").rglob("*.jpg"))) == 10


def test_offline_error_names_everything_a_student_needs(tiny, monkeypatch):
    monkeypatch.setenv("COURSEKIT_MIRROR", str(tiny["tmp"] / "nowhere"))
    with pytest.raises(datasets.DatasetUnavailable) as caught:
        datasets.load("tiny")
    message = str(caught.value)
    for needed in ("'tiny'", "http://127.0.0.1:9/tiny.zip", "tiny.zip",
                   str(tiny["tmp"] / "data" / "downloads"), "COURSEKIT_MIRROR"):
        assert needed in message
    assert _leftovers(tiny["tmp"] / "data") == []


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(ValueError, match="cats_and_dogs_filtered"):
        datasets.load("imagenet")


# ------------------------------------------------------------------ the real course data


@pytest.fixture
def no_network(monkeypatch):
    """Make every name lookup fail, as on a machine with no network."""
    def refuse(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "no network in this test")
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_real_dataset_offline_without_mirror_raises_clear_error(isolated, no_network):
    with pytest.raises(datasets.DatasetUnavailable) as caught:
        datasets.load("cats_and_dogs_filtered")
    message = str(caught.value)
    assert "cats_and_dogs_filtered" in message
    assert "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip" in message
    assert str(isolated / "data" / "downloads") in message
    assert "COURSEKIT_MIRROR" in message


def test_real_dataset_from_course_mirror(isolated, course_mirror, no_network):
    root = datasets.load("cats_and_dogs_filtered")
    expected = datasets.read_digest(datasets.DATASETS["cats_and_dogs_filtered"])
    images = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jpg"))
    assert images == sorted(expected)  # the digest's paths, relative to the dataset's root
    assert len(list((root / "train").rglob("*.jpg"))) == 2000
    assert len(list((root / "validation").rglob("*.jpg"))) == 1000
    sample = "train/dogs/dog.7.jpg"
    assert downloads.sha256_file(root / sample) == expected[sample]
    quick = datasets.load("cats_and_dogs_filtered", quick=True)
    assert len(list((quick / "train" / "cats").iterdir())) == 100
    assert len(list((quick / "validation" / "dogs").iterdir())) == 50


def test_shipped_digest_is_the_reference():
    digest = Path(datasets.__file__).parent / "digests" / "cats_and_dogs_filtered.sha256"
    assert downloads.sha256_file(digest) == \
        "ad5acefe3c4f000e46fcecabc985f9dd6712e94452d052d3d0e45dd8f4f8027a"


def test_prefetch_fills_keras_cache_from_mirror(isolated, course_mirror, no_network):
    report = datasets.prefetch(datasets=())
    status = dict(zip(report["item"], report["status"]))
    assert set(status) == {file.name for file in downloads.KERAS_FILES}
    assert status["mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"].startswith("mirror")
    assert status["imagenet_class_index.json"].startswith("mirror")
    # no mirror holds the classifier file and the download fails: optional, the row says which
    # cell goes without it and why it is not here; no row says missing (issue 16)
    optional = status["mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224.h5"]
    assert optional.startswith("optional, not here: only lesson 6's top-5 ImageNet predictions cell uses it")
    assert "no network in this test" in optional and not report["status"].str.startswith("missing").any()
    path = downloads.keras_file("imagenet_class_index.json").path
    assert path == isolated / "keras" / "models" / "imagenet_class_index.json"
    assert downloads.sha256_file(path) == downloads.keras_file(path.name).sha256
    again = datasets.prefetch(datasets=())
    assert sorted(again["status"].str.split().str[0]) == ["cache", "cache", "optional,"]


def test_a_classroom_with_the_mirror_runs_offline_after_the_prefetch_command(isolated, course_mirror,
                                                                         no_network, capsys):
    """`python -m coursekit prefetch` with the course mirror and no network: no row says missing
    (the classifier file the mirror lacks is optional and names the one cell that needs it)."""
    from coursekit.__main__ import main

    assert main(["prefetch", "--quick"]) == 0
    printed = " ".join(capsys.readouterr().out.split())  # one line per item, wrapped at 100
    assert "missing" not in printed and "cats_and_dogs_filtered: verified" in printed
    assert "optional, not here: only lesson 6's top-5 ImageNet predictions cell" in printed
    assert "no network in this test" in printed  # why it is not here, in one short line


def test_prefetch_downloads_what_no_mirror_holds(isolated, http_server, monkeypatch):
    """Without a mirror, prefetch takes each file from its URL (here a local server), checked."""
    served = isolated / "served"
    served.mkdir()
    entries = []
    for index, name in enumerate(["weights.h5", "index.json"]):
        data = f"file {index}".encode()
        (served / name).write_bytes(data)
        entries.append(downloads.KerasFile(name, "", hashlib.sha256(data).hexdigest()))
    base = http_server(served)
    entries = [downloads.KerasFile(e.name, f"{base}/{e.name}", e.sha256) for e in entries]
    entries.append(downloads.KerasFile("bad.h5", f"{base}/weights.h5", "0" * 64))
    monkeypatch.setattr(downloads, "KERAS_FILES", tuple(entries))
    report = datasets.prefetch(datasets=())
    assert list(report["status"].str.split().str[0]) == ["downloaded", "downloaded", "missing:"]
    assert (isolated / "keras" / "models" / "index.json").read_bytes() == b"file 1"
    assert not (isolated / "keras" / "models" / "bad.h5").exists()  # wrong sha256: not kept
    with pytest.raises(downloads.WeightsUnavailable, match="bad.h5"):
        downloads.fetch_keras_file(entries[2])


def test_keras_loads_imagenet_weights_offline_after_prefetch(isolated, course_mirror, no_network):
    """What lesson 0 promises: after prefetch(), keras.applications needs no network."""
    import subprocess

    datasets.prefetch(datasets=())
    code = ("import socket\n"
            "def offline(*args, **kwargs): raise OSError('no network in this test')\n"
            "socket.getaddrinfo = offline\n"
            "import keras\n"
            "base = keras.applications.MobileNetV2(alpha=0.35, include_top=False, weights='imagenet',"
            " input_shape=(224, 224, 3))\n"
            "probabilities = keras.ops.one_hot([281], 1000)\n"
            "print(base.output_shape, keras.applications.mobilenet_v2.decode_predictions("
            "keras.ops.convert_to_numpy(probabilities), top=1)[0][0][1])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "KERAS_HOME": str(isolated / "keras")}, timeout=120)
    assert "(None, 7, 7, 1280) tabby" in result.stdout, result.stderr[-2000:]


def test_keras_home_falls_back_like_keras(monkeypatch, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    monkeypatch.setenv("KERAS_HOME", str(locked))
    try:
        if os.access(locked, os.W_OK):  # root can write anywhere
            assert config.keras_home() == locked
        else:
            assert config.keras_home() == Path("/tmp/.keras")
    finally:
        locked.chmod(0o700)


def test_two_processes_filling_the_cache_at_once(isolated, course_mirror):
    """Two notebooks (or test workers) starting together on an empty cache both get the data."""
    import subprocess
    import sys

    code = ("from coursekit import datasets; root = datasets.load('cats_and_dogs_filtered', quick=True); "
            "print(sum(1 for _ in root.rglob('*.jpg')))")
    env = {**os.environ}
    workers = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [out.strip() for out, _ in outputs] == ["300", "300"], [err[-1000:] for _, err in outputs]
    leftovers = [p.name for p in (isolated / "data").iterdir()
                 if p.name.startswith(".cats") and not p.name.endswith(".lock")]
    assert leftovers == []


def test_a_lesson_gets_its_weights_from_the_mirror_without_prefetch(isolated, course_mirror, no_network):
    """Lessons 6 and 7 must not depend on lesson 0 having run prefetch() first."""
    from coursekit import pretrained

    assert not (isolated / "keras" / "models").exists()
    base, _ = pretrained.pretrained_base("mobilenet_v2", (224, 224, 3), alpha=0.35)
    assert base.output_shape == (None, 7, 7, 1280)
    assert pretrained.imagenet_class_names()[281] == "tabby"
    with pytest.raises(ValueError, match="the registry has: mobilenet_v2"):
        downloads.fetch_keras_file("not_in_the_registry.h5")


# ------------------------------------------------------------------ the switch: your own folder


def _stub_owndata(monkeypatch, prepared: Path) -> list:
    """Stand in for coursekit.owndata.prepare(folder, quick=None) -> Path; record the calls."""
    from coursekit import owndata

    calls = []
    monkeypatch.setattr(owndata, "prepare",
                        lambda folder, quick=None: calls.append((folder, quick)) or prepared)
    return calls


def test_the_switch_makes_load_prepare_your_folder(isolated, monkeypatch):
    photos = isolated / "photos"
    (photos / "happy").mkdir(parents=True)
    calls = _stub_owndata(monkeypatch, isolated / "prepared")
    assert datasets.active() == "cats_and_dogs_filtered"
    try:
        datasets.use(photos)
        assert os.environ["COURSEKIT_DATASET"] == str(photos.resolve()) == datasets.active()
        assert datasets.load() == isolated / "prepared" and calls == [(photos.resolve(), None)]
        datasets.load(quick=True)
        assert calls[-1] == (photos.resolve(), True)
        datasets.use(None)
        assert "COURSEKIT_DATASET" not in os.environ
        assert datasets.active() == "cats_and_dogs_filtered"
    finally:
        datasets.use(None)
    monkeypatch.setenv("COURSEKIT_DATASET", str(photos))  # the environment variable, same switch
    assert datasets.load() == isolated / "prepared" and calls[-1] == (photos, None)
    with pytest.raises(ValueError, match="is not a folder"):
        datasets.use(isolated / "no such folder")
    monkeypatch.setenv("COURSEKIT_DATASET", str(isolated / "no such folder"))
    with pytest.raises(ValueError, match="neither a course dataset .* nor an existing folder"):
        datasets.load()


def test_a_named_dataset_ignores_the_switch_and_describe_says_what_is_active(tiny, monkeypatch):
    monkeypatch.setenv("COURSEKIT_MIRROR", str(tiny["mirror"]))
    calls = _stub_owndata(monkeypatch, tiny["tmp"] / "prepared")
    monkeypatch.setenv("COURSEKIT_DATASET", str(tiny["tmp"]))
    root = datasets.load("tiny")
    assert root == tiny["tmp"] / "data" / "tiny" and calls == []
    try:
        datasets.use("tiny")  # a registry name works as the switch too
        assert datasets.load() == root
        assert datasets.describe() == "tiny: 2 classes (cats, dogs); train 6, validation 4 images"
        monkeypatch.setenv("COURSEKIT_QUICK", "1")
        assert datasets.describe() == ("tiny (quick mode): 2 classes (cats, dogs); "
                                       "train 4, validation 2 images")
    finally:
        datasets.use(None)
