"""The bottom of the data layer: one file from a mirror (``config.mirrors()``: folders,
``file://`` or ``http(s)://`` URLs holding the course's files under their own names) or its URL,
checked by sha256, and the registry of the files Keras loads from its cache (``KERAS_FILES``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from coursekit import config


class WeightsUnavailable(RuntimeError):
    """A file Keras needs is neither in its cache nor in a mirror and cannot be downloaded."""


class ChecksumError(ValueError):
    """A downloaded or extracted file does not match its published checksum."""


@dataclass(frozen=True)
class KerasFile:
    """A file Keras loads from its cache folder ``$KERAS_HOME/models``, and where to get it."""

    name: str
    url: str
    sha256: str | None  # None: no published checksum known to the course
    optional: str = ""  # why the course goes on without it ("": a lesson needs it)

    @property
    def path(self) -> Path:
        """Where Keras looks for the file (``KERAS_HOME`` is read at call time)."""
        return config.keras_home() / "models" / self.name


_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"
_MOBILENET_V2 = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224"

#: The files the lessons need from Keras' cache: the one registry of weight files.
KERAS_FILES: tuple[KerasFile, ...] = (
    KerasFile(f"{_MOBILENET_V2}_no_top.h5", f"{_KERAS_APPS}mobilenet_v2/{_MOBILENET_V2}_no_top.h5",
              "db51335132b1d77598da38a1365e77bb0d16690ab10c62abb89c476fff4ff42f"),
    KerasFile(f"{_MOBILENET_V2}.h5", f"{_KERAS_APPS}mobilenet_v2/{_MOBILENET_V2}.h5", None,  # + classifier
              "only lesson 6's top-5 ImageNet predictions cell uses it, and says so when it is absent"),
    KerasFile("imagenet_class_index.json",  # the class names decode_predictions reads
              "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
              "a1e7a966a1f601d39e4b43e119b3e7dd4a2ad3ea08cf69847cbaf021013767bc"),
)


def keras_file(name: str, application: str | None = None) -> KerasFile:
    """Return the registry entry of a file Keras caches, by file name; a weight file it lacks
    gets one on Keras' URL (no checksum) when ``application`` names its folder there.

    >>> keras_file("imagenet_class_index.json").sha256[:12]
    'a1e7a966a1f6'
    >>> keras_file("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", "vgg16").url.split("/")[-2:]
    ['vgg16', 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5']
    """
    found = next((entry for entry in KERAS_FILES if entry.name == name), None)
    if found or application:
        return found or KerasFile(name, f"{_KERAS_APPS}{application}/{name}", None)
    known = ", ".join(entry.name for entry in KERAS_FILES)
    raise ValueError(f"unknown Keras file {name!r}; the registry has: {known}")


def sha256_file(path: str | os.PathLike) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(root: Path, relative_paths) -> str:
    """Return the sha256 of each path with its size and modification time (links not followed;
    None when missing): a cheap stand-in for the files' contents, to skip work on an unchanged tree."""
    digest = hashlib.sha256()
    for relative in sorted(relative_paths):
        info = os.lstat(root / relative) if os.path.lexists(root / relative) else None
        digest.update(f"{relative}\0{info and (info.st_size, info.st_mtime_ns)}\n".encode())
    return digest.hexdigest()


def download(url: str, destination: str | os.PathLike, sha256: str | None = None,
             progress: bool = True, timeout: float = 30.0) -> Path:
    """Stream ``url`` to ``destination`` through a ``.part`` file, renamed only when complete and
    matching ``sha256`` if given; return its path. ``http(s)://`` goes through pooch's downloader
    (requests: a cut-off transfer raises, a progress bar), ``file://`` is copied."""
    import pooch

    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f"{destination.name}.{os.getpid()}.part")
    try:
        if url.startswith("file:"):  # pooch speaks http(s), ftp, sftp and doi
            shutil.copyfile(urllib.request.url2pathname(urllib.parse.urlparse(url).path), partial)
        else:
            pooch.HTTPDownloader(progressbar=progress, timeout=timeout)(url, str(partial), None)
        if sha256 is not None and sha256_file(partial) != sha256:
            raise ChecksumError(f"{url} has sha256 {sha256_file(partial)}, expected {sha256}: the "
                                "file is corrupt or not the one the course needs.")
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return destination


def fetch(name: str, url: str, target: Path, sha256: str | None, internet: bool):
    """Copy ``name`` to ``target`` from the first ``COURSEKIT_MIRROR`` entry that holds it, else
    download ``url``. Returns (where it came from, or None, and the problems met on the way)."""
    sources = []
    for entry in config.mirrors():
        parsed = urllib.parse.urlparse(entry)
        if parsed.scheme in ("http", "https"):
            sources.append((f"mirror {entry}", f"{entry.rstrip('/')}/{urllib.parse.quote(name)}"))
        elif (file := Path(urllib.request.url2pathname(parsed.path) if parsed.scheme == "file"
                           else entry).expanduser() / name).is_file():
            sources.append((f"mirror {file}", file.resolve().as_uri()))
    problems = (([] if sources else ["no COURSEKIT_MIRROR entry holds it"])
                + ([] if internet else ["downloads were switched off"]))
    sources += [(f"downloaded from {url}", url)] if internet else []
    for source, location in sources:
        try:
            download(location, target, sha256=sha256, progress=source.startswith("downloaded"))
            return source, problems
        except (OSError, ValueError) as error:  # network (requests' errors are OSErrors), bad file
            while error.__cause__ or error.__context__:  # requests wraps the cause: name it
                error = error.__cause__ or error.__context__
            problems.append(f"{source}: {(str(error).splitlines() or [repr(error)])[0]}")
    return None, problems


def fetch_keras_file(file: KerasFile | str, internet: bool = True) -> str:
    """Put a registry file into Keras' cache (``file.path``) from the cache, a mirror or (``internet``)
    its URL, sha256-checked where known; return which, or raise ``WeightsUnavailable`` saying why."""
    file = keras_file(file) if isinstance(file, str) else file
    if file.path.is_file() and (file.sha256 is None or sha256_file(file.path) == file.sha256):
        return "cache"
    source, problems = fetch(file.name, file.url, file.path, file.sha256, internet)
    if source is None:
        raise WeightsUnavailable(
            f"{'; '.join(problems)}\nKeras needs {file.name} in the folder\n"
            f"    {file.path.parent}\nDownload it from\n    {file.url}\nand put it in that folder "
            "(or set COURSEKIT_MIRROR to a folder that holds it and run `python -m coursekit "
            "prefetch`), then run this cell again.")
    return source
