"""Face data: finding it, decoding it once, and serving it in P x K batches.

Three sources, all turned into the same `FaceSet` (uint8 crops + integer labels):

* LFW in its standard layout (`lfw-deepfunneled/<Name>/<Name>_NNNN.jpg` and the protocol files),
* the Olivetti faces (`olivettifaces.mat`, or scikit-learn's cached `olivetti.pkz`),
* any folder with one sub-folder of photos per person (a class's own faces).

Where the data is looked for, in this order: a path given explicitly, the `FACENET_DATA`
environment variable (a folder holding `lfw/` and/or `olivetti/`), scikit-learn's data home,
and a download with scikit-learn's own fetchers when `download=True`. Nothing is ever written
under the project tree: decoded arrays are cached in a user cache directory (`FACENET_CACHE`,
else `$XDG_CACHE_HOME/facenet-course`, else `~/.cache/facenet-course`).

`preprocess` is the one preprocessing function: training, evaluation and inference all go
through `crop_and_resize` (PIL image -> uint8 crop) and `to_model_input` (uint8 -> float tensor).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # torch is imported where tensors are made: finding the data must not wait for it
    import torch

DATA_ENV = "FACENET_DATA"
CACHE_ENV = "FACENET_CACHE"

# The face crop, as a box in LFW's 250 x 250 frame (x0, y0, x1, y1). The deep-funneled images
# are aligned so that the face sits in the centre; this square keeps brows to chin.
LFW_FRAME = 250
LFW_FACE_BOX = (65, 65, 185, 185)
INPUT_SIZE = 64  # side of the square crop the network sees
PREPROCESS_VERSION = f"v1-box{LFW_FACE_BOX}-size{INPUT_SIZE}"

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm")

HOW_TO_GET_DATA = f"""\
No face data was found. The course needs Labeled Faces in the Wild (LFW, deep-funneled) for its
face pages; the Olivetti faces are optional. Any one of these works:

  1. Point the app at a folder: set the environment variable {DATA_ENV}=/path/to/data
     (or type the path on the home page), where the folder holds
        lfw/lfw-deepfunneled/<Name>/<Name>_NNNN.jpg   plus lfw/pairs*.txt and lfw/people*.txt
        olivetti/olivettifaces.mat                    (optional)
  2. Download LFW yourself from the University of Massachusetts LFW page
     (lfw-deepfunneled.tgz and the protocol files pairs.txt, pairsDevTrain.txt, pairsDevTest.txt,
     people.txt, peopleDevTrain.txt, peopleDevTest.txt) and unpack them into <folder>/lfw/.
  3. When online, let scikit-learn fetch them into its data home:
        python -c "from sklearn.datasets import fetch_lfw_pairs, fetch_olivetti_faces; fetch_lfw_pairs(funneled=True); fetch_olivetti_faces()"
     (scikit-learn downloads the 'funneled' LFW variant, which works too).
"""


class DataNotFoundError(FileNotFoundError):
    """Raised when a dataset cannot be found anywhere; its message says how to get it."""


class DataPathError(DataNotFoundError):
    """A path that cannot be used as it is (too long, not readable, a loop of links...): the message
    says what is wrong in plain words, never as the operating system's bare error; `reason` is that
    part alone."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


# --------------------------------------------------------------------------------------------
# Paths from anyone: every filesystem probe goes through these, so any OS error becomes words
# --------------------------------------------------------------------------------------------

SHOWN_PATH = 160  # characters of a path that messages show (a long one is cut in the middle)
PATH_ERRORS = (OSError, ValueError, RuntimeError)  # ValueError: a NUL in it; RuntimeError: "~nobody"

_PLAIN_ERRNO = {
    errno.ENAMETOOLONG: "the path is too long for this system (a folder or file name may have at most 255 "
                        "characters, a whole path a few thousand)",
    errno.EACCES: "the server is not allowed to read it (permission denied)",
    errno.EPERM: "the server is not allowed to read it (operation not permitted)",
    errno.ENOENT: "there is nothing at that path",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ELOOP: "the path goes round a loop of symbolic links",
    errno.EIO: "the disk could not be read (input/output error)",
    errno.ENODEV: "the device behind the path is not there",
    errno.ENXIO: "the device behind the path is not there",
    errno.ESTALE: "the network folder behind the path is no longer reachable",
    errno.ETIMEDOUT: "the network folder behind the path did not answer",
    errno.EINVAL: "the path is not valid on this system",
}


def shown_path(path) -> str:
    """A path as a message shows it: at most SHOWN_PATH characters, cut in the middle."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(path))  # a NUL or a line break shows as ?
    if len(text) <= SHOWN_PATH:
        return text
    return f"{text[:SHOWN_PATH // 2]}...{text[-(SHOWN_PATH // 2 - 3):]} ({len(text):,} characters)"


def path_problem(err: BaseException) -> str:
    """What an error from a filesystem call means, in plain words (no errno, no traceback)."""
    if isinstance(err, ValueError):
        return "the path contains a character no path can hold (a null character)"
    if isinstance(err, RuntimeError):
        return "the path starts with ~ for a user this system does not know"
    code = getattr(err, "errno", None)
    if code in _PLAIN_ERRNO:
        return _PLAIN_ERRNO[code]
    if isinstance(err, OSError) and code is not None:
        return f"the system could not read it ({os.strerror(code).lower()})"
    return "the system could not read it"


def _path_error(path, err: BaseException) -> DataPathError:
    reason = path_problem(err)
    return DataPathError(f"{shown_path(path)} cannot be used: {reason}.", reason)


def _checked(path) -> Path:
    """`path` as a Path with `~` expanded, or DataPathError saying why it cannot be."""
    text = os.fspath(path)
    if "\x00" in str(text):
        raise _path_error(text, ValueError("embedded null byte"))
    try:
        return Path(text).expanduser()
    except PATH_ERRORS as err:
        raise _path_error(text, err) from None


def _is_dir(path: Path) -> bool:
    """Whether `path` is a folder; a path that is missing is not one, any other OS error is DataPathError."""
    try:
        return path.is_dir()
    except PATH_ERRORS as err:
        raise _path_error(path, err) from None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except PATH_ERRORS as err:
        raise _path_error(path, err) from None


def path_exists(path) -> tuple[bool, str]:
    """(whether something is at `path`, what is wrong with the path in plain words or "")."""
    try:
        return _checked(path).exists(), ""
    except DataPathError as err:
        return False, err.reason
    except PATH_ERRORS as err:
        return False, path_problem(err)


# --------------------------------------------------------------------------------------------
# The one preprocessing function
# --------------------------------------------------------------------------------------------


def crop_and_resize(image: Image.Image, framing: str = "lfw", size: int = INPUT_SIZE) -> np.ndarray:
    """Cut the face out of `image` and return it as a (size, size, 3) uint8 RGB array.

    framing="lfw": the image is framed like an LFW deep-funneled photo (face centred, about half
    the frame wide); the LFW face box is scaled to the image's size and cut out.
    framing="full": the image is already a tight face crop (Olivetti, detector output); it is
    only resized.
    """
    image = image.convert("RGB")
    if framing == "lfw":
        w, h = image.size
        x0, y0, x1, y1 = LFW_FACE_BOX
        box = (x0 * w / LFW_FRAME, y0 * h / LFW_FRAME, x1 * w / LFW_FRAME, y1 * h / LFW_FRAME)
        image = image.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
    elif framing == "full":
        image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    else:
        raise ValueError(f"framing must be 'lfw' or 'full', not {framing!r}")
    return np.asarray(image, dtype=np.uint8)


def to_model_input(crops: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 crops (N, H, W, 3) -> float32 tensor (N, 3, H, W) scaled to [-1, 1]."""
    import torch

    x = torch.as_tensor(crops)
    if x.ndim == 3:
        x = x.unsqueeze(0)
    return x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def preprocess(images: Sequence[Image.Image], framing: str = "lfw", size: int = INPUT_SIZE) -> torch.Tensor:
    """PIL images as they come from disk -> the network's input tensor (N, 3, size, size)."""
    return to_model_input(np.stack([crop_and_resize(im, framing, size) for im in images]))


# --------------------------------------------------------------------------------------------
# A decoded set of faces
# --------------------------------------------------------------------------------------------


@dataclass
class FaceSet:
    """Decoded faces: `images[i]` shows person `names[labels[i]]`; `files[i]` says where from."""

    images: np.ndarray  # (N, S, S, 3) uint8, already through crop_and_resize
    labels: np.ndarray  # (N,) int64 index into names
    names: list[str]
    files: list[str]  # path relative to the dataset root, e.g. "Aaron_Eckhart/Aaron_Eckhart_0001.jpg"
    source: str = ""
    skipped: list[str] = field(default_factory=list)  # files that could not be decoded

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_people(self) -> int:
        return len(np.unique(self.labels))

    def subset(self, indices: np.ndarray | Sequence[int]) -> "FaceSet":
        """The images at `indices`, their people relabelled 0..P-1 (keeping the order of `names`)."""
        indices = np.asarray(indices, dtype=np.int64)
        old = self.labels[indices]
        kept, new_labels = np.unique(old, return_inverse=True)
        return FaceSet(
            images=self.images[indices],
            labels=new_labels.astype(np.int64),
            names=[self.names[k] for k in kept],
            files=[self.files[i] for i in indices],
            source=self.source,
        )

    def of_people(self, names: Iterable[str]) -> "FaceSet":
        wanted = set(names)
        keep = [i for i, lab in enumerate(self.labels) if self.names[lab] in wanted]
        return self.subset(keep)

    def with_at_least(self, min_images: int) -> "FaceSet":
        counts = np.bincount(self.labels)
        return self.subset(np.flatnonzero(counts[self.labels] >= min_images))

    def index(self) -> dict[str, int]:
        """file path -> row, for looking up protocol pairs."""
        return {f: i for i, f in enumerate(self.files)}


# --------------------------------------------------------------------------------------------
# Finding the data
# --------------------------------------------------------------------------------------------


def _sklearn_data_home() -> Path | None:
    try:
        from sklearn.datasets import get_data_home

        return Path(get_data_home())
    except Exception:  # scikit-learn missing or data home not creatable: just skip this place
        return None


def _lfw_root_in(folder: Path) -> Path | None:
    """The folder holding `lfw-deepfunneled/` (or scikit-learn's `lfw_funneled/`) at or under `folder`."""
    for candidate in (folder, folder / "lfw", folder / "lfw_home"):
        for images in ("lfw-deepfunneled", "lfw_funneled"):
            if _is_dir(candidate / images):
                return candidate
    return None


def lfw_image_dir(root: Path) -> Path:
    for images in ("lfw-deepfunneled", "lfw_funneled"):
        if _is_dir(root / images):
            return root / images
    raise DataNotFoundError(f"{root} holds no lfw-deepfunneled/ folder.\n\n{HOW_TO_GET_DATA}")


def _candidate_folders(path: str | os.PathLike | None) -> Iterator[tuple[str, str | os.PathLike]]:
    """(the place as messages name it, folder as given), in search order. scikit-learn's data home
    comes last and is worked out only when the search gets there: importing scikit-learn takes seconds."""
    if path:
        yield "the path given", path
    if os.environ.get(DATA_ENV):
        yield f"${DATA_ENV}", os.environ[DATA_ENV]
    home = _sklearn_data_home()
    if home is not None:
        yield "scikit-learn's data home", home


def _search(path: str | os.PathLike | None, look_in: Callable[[Path], Path | None]) -> tuple[Path | None, list]:
    """The first thing `look_in` finds in the candidate folders, in search order (None if nothing),
    and the places looked in on the way, as (the place as messages name it, the folder as shown).
    A folder that cannot be probed (too long, not readable, ...) is passed over, and the message
    says why beside it."""
    looked = []
    for how, given in _candidate_folders(path):
        try:
            folder = _checked(given)
            found = look_in(folder)
        except DataPathError as err:
            looked.append((how, f"{shown_path(given)} (cannot be used: {err.reason})"))
            continue
        looked.append((how, shown_path(folder)))
        if found is not None:
            return found, looked
    return None, looked


def _not_found(sentence: str, looked: list) -> DataNotFoundError:
    places = "\n".join(f"  - {how}: {where}" for how, where in looked) or "  (nowhere)"
    return DataNotFoundError(f"{sentence} Looked in:\n{places}\n\n{HOW_TO_GET_DATA}")


def find_lfw(path: str | os.PathLike | None = None, download: bool = False) -> Path:
    """The LFW root (the folder holding `lfw-deepfunneled/` and the protocol files)."""
    root, looked = _search(path, _lfw_root_in)
    if root is not None:
        return root
    if download:
        try:
            from sklearn.datasets import fetch_lfw_pairs

            fetch_lfw_pairs(subset="test", funneled=True, download_if_missing=True)
            root = _lfw_root_in(Path(_sklearn_data_home()))
            if root is not None:
                return root
        except Exception as err:  # offline, or the mirror is down
            raise DataNotFoundError(f"Downloading LFW failed ({err}).\n\n{HOW_TO_GET_DATA}") from err
    raise _not_found("LFW was not found.", looked)


def _olivetti_file_in(folder: Path) -> Path | None:
    """`olivettifaces.mat` or scikit-learn's `olivetti.pkz` at or under `folder`, or `folder` itself
    when it is such a file."""
    for candidate in (folder, folder / "olivetti"):
        for name in ("olivettifaces.mat", "olivetti.pkz"):
            if _is_file(candidate / name):
                return candidate / name
    if _is_file(folder) and folder.suffix in (".mat", ".pkz"):
        return folder
    return None


def find_olivetti(path: str | os.PathLike | None = None, download: bool = False) -> Path:
    """The Olivetti file: `olivettifaces.mat` or scikit-learn's cached `olivetti.pkz`."""
    found, looked = _search(path, _olivetti_file_in)
    if found is not None:
        return found
    if download:
        try:
            from sklearn.datasets import fetch_olivetti_faces

            fetch_olivetti_faces(download_if_missing=True)
            return Path(_sklearn_data_home()) / "olivetti.pkz"
        except Exception as err:
            raise DataNotFoundError(f"Downloading Olivetti failed ({err}).\n\n{HOW_TO_GET_DATA}") from err
    raise _not_found("The Olivetti faces were not found.", looked)


# --------------------------------------------------------------------------------------------
# The cache of decoded arrays
# --------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "facenet-course"


def _cache_key(kind: str, files: Sequence[Path], size: int, framing: str) -> str:
    h = hashlib.sha1(f"{kind}|{PREPROCESS_VERSION}|{size}|{framing}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f}|{st.st_size}|{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def _load_cached(key: str) -> FaceSet | None:
    try:
        folder = cache_dir() / key
        meta = json.loads((folder / "meta.json").read_text())
        images = np.load(folder / "images.npy")
        labels = np.load(folder / "labels.npy")
        return FaceSet(images, labels, meta["names"], meta["files"], meta["source"], meta.get("skipped", []))
    except (*PATH_ERRORS, KeyError):
        return None


def _save_cached(key: str, faces: FaceSet) -> None:
    try:
        folder = cache_dir() / key
    except PATH_ERRORS:  # no home folder to put a cache in: only speed is lost
        return
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        np.save(tmp / "images.npy", faces.images)
        np.save(tmp / "labels.npy", faces.labels)
        meta = {"names": faces.names, "files": faces.files, "source": faces.source, "skipped": faces.skipped}
        (tmp / "meta.json").write_text(json.dumps(meta))
        if folder.exists():  # another process won the race; its copy is as good as ours
            return
        tmp.rename(folder)
    except PATH_ERRORS:
        pass  # a read-only or full cache only costs speed
    finally:
        try:
            if tmp.exists():
                for f in tmp.iterdir():
                    f.unlink()
                tmp.rmdir()
        except PATH_ERRORS:
            pass  # a leftover temporary folder in the cache is harmless


def _decode(path: Path, framing: str, size: int) -> np.ndarray | None:
    try:
        with Image.open(path) as im:
            return crop_and_resize(im, framing, size)
    except Exception:  # any unreadable file is reported in FaceSet.skipped, not fatal
        return None


def _decode_folder(root: Path, files: list[Path], framing: str, size: int, source: str) -> FaceSet:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        crops = list(pool.map(lambda f: _decode(f, framing, size), files, chunksize=64))
    ok = [i for i, c in enumerate(crops) if c is not None]
    # names of people with at least one readable photo, so labels are 0..P-1 over real images
    names = sorted({files[i].parent.name for i in ok})
    label_of = {n: i for i, n in enumerate(names)}
    return FaceSet(
        images=np.stack([crops[i] for i in ok]) if ok else np.zeros((0, size, size, 3), np.uint8),
        labels=np.array([label_of[files[i].parent.name] for i in ok], dtype=np.int64),
        names=names,
        files=[files[i].relative_to(root).as_posix() for i in ok],
        source=source,
        skipped=[files[i].relative_to(root).as_posix() for i, c in enumerate(crops) if c is None],
    )


def _person_folders(root: Path) -> list[Path]:
    files = []
    for person in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files.extend(sorted(f for f in person.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES))
    return files


def load_folder(path: str | os.PathLike, framing: str = "lfw", size: int = INPUT_SIZE, use_cache: bool = True) -> FaceSet:
    """A folder with one sub-folder of photos per person: `<path>/<Name>/*.jpg`.

    Photos that cannot be decoded are listed in `FaceSet.skipped` rather than stopping the load.
    """
    given = _checked(path)
    try:
        root = given.resolve()  # resolved: the cache key must not depend on how the path is spelt
        if not root.is_dir():
            raise DataNotFoundError(f"{shown_path(root)} is not a folder. Expected one sub-folder of photos per person.")
        files = _person_folders(root)
        if not files:
            raise DataNotFoundError(f"{shown_path(root)} has no photos in per-person sub-folders "
                                    "(<person>/<photo>.jpg).")
        key = _cache_key(f"folder:{root}", files, size, framing)
    except DataNotFoundError:
        raise
    except PATH_ERRORS as err:
        raise _path_error(given, err) from None
    faces = _load_cached(key) if use_cache else None
    if faces is None:
        faces = _decode_folder(root, files, framing, size, source=str(root))
        if use_cache:
            _save_cached(key, faces)
    return faces


def load_lfw(path: str | os.PathLike | None = None, size: int = INPUT_SIZE, use_cache: bool = True, download: bool = False) -> FaceSet:
    """All of LFW (13,233 images of 5,749 people), decoded once and cached."""
    root = find_lfw(path, download=download)
    faces = load_folder(lfw_image_dir(root), framing="lfw", size=size, use_cache=use_cache)
    faces.source = str(root)
    return faces


def load_olivetti(path: str | os.PathLike | None = None, size: int = INPUT_SIZE, download: bool = False) -> FaceSet:
    """The 400 Olivetti faces (40 people x 10), greyscale repeated to RGB, people named s1..s40."""
    file = find_olivetti(path, download=download)
    try:
        if file.suffix == ".pkz":
            import joblib

            flat = np.asarray(joblib.load(file))  # (400, 4096) as scikit-learn caches it
            faces64 = flat.reshape(400, 64, 64).transpose(0, 2, 1)
        else:
            from scipy.io import loadmat

            flat = loadmat(file)["faces"]  # (4096, 400), each column a 64x64 image stored column-major
            faces64 = flat.T.reshape(400, 64, 64).transpose(0, 2, 1)
    except OSError as err:
        raise _path_error(file, err) from None
    faces64 = np.ascontiguousarray(faces64)
    if faces64.dtype != np.uint8:  # scikit-learn's cache may hold floats in [0, 1]
        scale = 255.0 if faces64.max() <= 1.0 else 1.0
        faces64 = np.clip(faces64 * scale, 0, 255).astype(np.uint8)
    crops = np.stack([crop_and_resize(Image.fromarray(f), framing="full", size=size) for f in faces64])
    labels = np.repeat(np.arange(40, dtype=np.int64), 10)
    return FaceSet(
        images=crops,
        labels=labels,
        names=[f"s{i + 1}" for i in range(40)],
        files=[f"s{i // 10 + 1}/{i % 10 + 1}" for i in range(400)],
        source=str(file),
    )


# --------------------------------------------------------------------------------------------
# LFW protocol files
# --------------------------------------------------------------------------------------------


def _read_text(path: str | os.PathLike) -> str:
    """A protocol file's text, or DataPathError in plain words (a missing file is FileNotFoundError)."""
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise
    except PATH_ERRORS as err:
        raise _path_error(path, err) from None


def lfw_file(name: str, number: int) -> str:
    """The relative path of image `number` (1-based) of `name`, as in the protocol files."""
    return f"{name}/{name}_{number:04d}.jpg"


def read_people(path: str | os.PathLike) -> list[list[tuple[str, int]]]:
    """`peopleDevTrain.txt` / `peopleDevTest.txt` (one set) or `people.txt` (ten folds).

    Returns a list of sets, each a list of (name, number of images).
    """
    lines = [ln.split() for ln in _read_text(path).splitlines() if ln.strip()]
    if len(lines[0]) != 1:
        raise ValueError(f"{path}: unexpected header {lines[0]}")
    sets, i = [], 0
    if len(lines[1]) == 1:  # people.txt: number of folds, then each fold's size and names
        num_sets, i = int(lines[0][0]), 1
    else:
        num_sets = 1
    for _ in range(num_sets):
        n = int(lines[i][0])
        sets.append([(name, int(count)) for name, count in lines[i + 1 : i + 1 + n]])
        i += n + 1
    return sets


@dataclass
class Pairs:
    """Verification pairs of a protocol file: file paths, same-person flag and fold (0..F-1)."""

    left: list[str]
    right: list[str]
    same: np.ndarray  # bool
    fold: np.ndarray  # int

    def __len__(self) -> int:
        return len(self.same)

    def indices(self, faces: FaceSet) -> tuple[np.ndarray, np.ndarray]:
        """Rows of `faces` holding each pair's two images (KeyError if an image is missing)."""
        where = faces.index()
        return (np.array([where[f] for f in self.left]), np.array([where[f] for f in self.right]))

    def names(self) -> set[str]:
        return {f.split("/")[0] for f in self.left + self.right}


def read_pairs(path: str | os.PathLike) -> Pairs:
    """`pairs.txt` (10 folds of 300 matched + 300 mismatched) or `pairsDev*.txt` (one fold)."""
    lines = [ln.split() for ln in _read_text(path).splitlines() if ln.strip()]
    header = lines[0]
    folds, per_fold = (1, int(header[0])) if len(header) == 1 else (int(header[0]), int(header[1]))
    body = lines[1:]
    if len(body) != folds * 2 * per_fold:
        raise ValueError(f"{path}: expected {folds * 2 * per_fold} pairs, found {len(body)}")
    left, right, same, fold = [], [], [], []
    for k, fields in enumerate(body):
        if len(fields) == 3:
            name, a, b = fields
            left.append(lfw_file(name, int(a)))
            right.append(lfw_file(name, int(b)))
            same.append(True)
        elif len(fields) == 4:
            n1, a, n2, b = fields
            left.append(lfw_file(n1, int(a)))
            right.append(lfw_file(n2, int(b)))
            same.append(False)
        else:
            raise ValueError(f"{path}: cannot read line {k + 2}: {' '.join(fields)}")
        fold.append(k // (2 * per_fold))
    return Pairs(left, right, np.array(same), np.array(fold))


def lfw_protocol_file(root: Path, name: str) -> Path:
    """A protocol file (`pairs.txt`, `peopleDevTrain.txt`, ...) beside the images."""
    for candidate in (root / name, root.parent / name):
        if _is_file(candidate):
            return candidate
    raise DataNotFoundError(
        f"The LFW protocol file {name} is missing from {root}. It comes with LFW: download it from "
        f"the LFW page beside lfw-deepfunneled.tgz and put it in {root}.\n\n{HOW_TO_GET_DATA}"
    )


def lfw_people(root: Path, split: str) -> list[str]:
    """Names of View 1's people: split "devtrain" (4,038 people) or "devtest" (1,711 people)."""
    files = {"devtrain": "peopleDevTrain.txt", "devtest": "peopleDevTest.txt"}
    if split not in files:
        raise ValueError(f"split must be one of {sorted(files)}, not {split!r}")
    return [name for name, _ in read_people(lfw_protocol_file(root, files[split]))[0]]


def lfw_pairs(root: Path, which: str) -> Pairs:
    """View 1 "devtrain" / "devtest" pairs, or View 2 "view2" (pairs.txt, ten folds)."""
    files = {"devtrain": "pairsDevTrain.txt", "devtest": "pairsDevTest.txt", "view2": "pairs.txt"}
    if which not in files:
        raise ValueError(f"pairs must be one of {sorted(files)}, not {which!r}")
    return read_pairs(lfw_protocol_file(root, files[which]))


# --------------------------------------------------------------------------------------------
# P x K batches
# --------------------------------------------------------------------------------------------


class PKSampler:
    """Batches of P people with K images each, as FaceNet's online triplet mining needs.

    Only people with at least two images are drawn (a person with one image can never be an
    anchor-positive pair). People are drawn uniformly without replacement within a batch; a
    person's K images are drawn without replacement, or, when they have fewer than K, all of them
    topped up with repeats (augmentation makes the repeats differ).

    Batch `t` depends only on (seed, rank, t), so training resumes mid-run on the very batches an
    uninterrupted run would have seen, and each DDP process draws its own batches.
    """

    def __init__(self, labels: np.ndarray, people_per_batch: int, images_per_person: int, seed: int = 0, rank: int = 0):
        self.labels = np.asarray(labels)
        self.P, self.K, self.seed, self.rank = people_per_batch, images_per_person, seed, rank
        order = np.argsort(self.labels, kind="stable")
        counts = np.bincount(self.labels)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._rows = {int(p): order[starts[p] : starts[p] + counts[p]] for p in np.flatnonzero(counts >= 2)}
        self.people = np.array(sorted(self._rows))
        if len(self.people) < 2:
            raise ValueError("P x K batches need at least two people with two or more images each")
        if self.P > len(self.people):
            raise ValueError(f"P = {self.P} but only {len(self.people)} people have two or more images")
        if self.K < 2:
            raise ValueError("K must be at least 2 (an anchor needs a positive)")

    @property
    def batch_size(self) -> int:
        return self.P * self.K

    @property
    def eligible_images(self) -> int:
        return sum(len(r) for r in self._rows.values())

    def batch(self, step: int) -> np.ndarray:
        """Row indices of batch `step`, grouped by person (K consecutive rows each)."""
        rng = np.random.default_rng([self.seed, self.rank, step])
        people = rng.choice(self.people, size=self.P, replace=False)
        out = []
        for p in people:
            rows = self._rows[int(p)]
            if len(rows) >= self.K:
                out.append(rng.choice(rows, size=self.K, replace=False))
            else:
                out.append(np.concatenate([rows, rng.choice(rows, size=self.K - len(rows), replace=True)]))
        return np.concatenate(out)

    def __iter__(self) -> Iterator[np.ndarray]:
        step = 0
        while True:
            yield self.batch(step)
            step += 1
