"""From a user's photo to the face crop the network sees.

    from model.faces import prepare_face, FaceInputError
    try:
        face = prepare_face(uploaded.getvalue())      # bytes of a JPEG/PNG/... or a webcam shot
    except FaceInputError as err:
        st.warning(str(err))                          # plain English: what went wrong, what to do
    else:
        vector = model.embed_crops(face.crop[None])   # (1, 128)

This module is the only place where an uploaded photo becomes a model input. It

1. refuses what it cannot use, with a message meant for the person who uploaded it: more than
   `MAX_UPLOAD_BYTES`, empty or truncated files, formats other than `SUPPORTED_FORMATS`,
   decompression bombs (more than `MAX_PIXELS`), images too small to hold a face;
2. decodes the photo from memory only (JPEGs at a reduced scale with `draft` when they are large),
   honours the EXIF orientation of phone photos, takes the first frame of animations, converts
   every colour mode to 8-bit RGB (CMYK, 16-bit, palette; transparency is laid on white);
3. finds the faces with OpenCV's Haar cascades shipped inside the opencv-python-headless wheel
   (frontal face alt2, and the eye cascade; loaded once, nothing downloaded), looks at each face
   again in a window framed like an LFW photo, and chooses one (the largest unless told otherwise);
4. cuts the crop so that it is framed like the training crops: `model.data.crop_and_resize` cuts
   LFW_FACE_BOX = (65, 65, 185, 185) out of LFW's 250 x 250 deep-funneled frame. How a Haar box
   relates to that square was measured on LFW itself (see `CROP_SCALE`, `CROP_DX`, `CROP_DY`).
   A small face in a large photo is cut from a finer decode; a tilted face is turned level first
   (its eyes found with the eye cascade), as LFW's deep-funneled faces are upright.

Nothing is written to disk or to a log: the bytes are decoded from `io.BytesIO`, OpenCV only
sees numpy arrays, and Pillow's warnings are silenced while a photo is decoded. (One thing
escapes our control: libtiff itself prints a line such as "tempfile.tif: Using code not yet in
table." to stderr for some corrupt compressed TIFFs; it names no file and shows no pixel.)

Every failure is a `FaceInputError` (a ValueError); no other exception leaves `prepare_face`,
whatever the bytes.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from model.data import INPUT_SIZE, LFW_FACE_BOX, LFW_FRAME

# --------------------------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------------------------

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # the same 20 MB as server.maxUploadSize in .streamlit/config.toml
MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo (8064 x 6048) still passes
MIN_IMAGE_SIDE = 48  # pixels; a smaller photo cannot hold a face the detector can find
WORK_MIN_SIDE = 1600  # JPEGs are decoded at the smallest 1/2, 1/4, 1/8 scale keeping this long side
WORK_MAX_SIDE = 2400  # every photo is then brought down to at most this long side for the crop
DETECT_MAX_SIDE = 1024  # the grey copy the detector scans has at most this long side
DISPLAY_MAX_SIDE = 1024  # PreparedFace.photo, for showing on the page
DETAIL = 2  # a face smaller than DETAIL x the crop size is cut from a finer decode of a large photo
BACKGROUND = (255, 255, 255)  # transparent pixels are laid on white, as a browser shows them

# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

# alt2 rather than frontalface_default, compared on LFW with the same pipeline: the subject found in
# 397 vs 395 of 400 photos, crops nearer the training crops (squared embedding distance to the
# pipeline's crop, median over 50 photos: 0.037 vs 0.051), about a third as many false faces on
# busy backgrounds (56 vs 162 in 80 test scenes), and faster (28 vs 38 ms on a 250 x 250 photo).
CASCADE_FILE = "haarcascade_frontalface_alt2.xml"  # inside cv2.data.haarcascades
SCALE_FACTOR = 1.1  # the detector's pyramid step
FINE_SCALE_FACTOR = 1.05  # the step of a second scan when the first finds no face
MIN_NEIGHBORS = 5  # overlapping hits needed to accept a face (fewer: more false faces)
MIN_FACE = 24  # pixels, in the detector's image: the cascade's own window

# Refinement: every face found is looked at again in a 250 x 250 window framed like an LFW photo
# (the face about REFINE_FACE pixels wide, as the detector sees LFW faces), so that the box has the
# same geometry as on the photos the crop constants were measured on, whatever the photo's size.
# (When the window's scan misses the face, the first box is kept.)
REFINE_FRAME = 250
REFINE_FACE = 112
REFINE_SCALE_FACTOR = 1.1  # the window's scan

# Levelling: the eyes are found with the eye cascade in the refinement window; a face rolled by
# MIN_ROLL to MAX_ROLL degrees is turned upright before it is cropped (LFW's faces are upright).
# Measured on 2 x 80 LFW photos turned in a 500 x 500 frame (squared distance between the
# embeddings of our crop and of the pipeline's crop of the unturned photo, median; two samples):
# turned 10 degrees 0.113 / 0.108 without levelling, 0.045 / 0.062 with; 15 degrees 0.198 / 0.215
# without, 0.050 / 0.060 with; not turned 0.038 / 0.035 without, 0.044 / 0.038 with (the eye
# cascade's own error, median ~2 degrees, sometimes passes MIN_ROLL).
LEVEL_EYES = True
EYE_CASCADE_FILE = "haarcascade_eye.xml"
MIN_ROLL = 4.0
MAX_ROLL = 30.0

# --------------------------------------------------------------------------------------------
# The crop, relative to the Haar box: side = CROP_SCALE * w, centre = box centre + (CROP_DX, CROP_DY) * w
# --------------------------------------------------------------------------------------------

# Measured by `python bench/bench_faces.py --calibrate` (the function `calibrate` below) on
# 1,000 LFW deep-funneled photos drawn at random (seed 0): each photo goes through the same
# detection as an upload (`find_faces`: alt2 cascade, then the refinement window), the face
# nearest the frame's centre is kept (found in 992 of 1,000), and the LFW face box
# (65, 65, 185, 185) is expressed in units of that Haar box's width w (median w: 112 px of 250).
# Medians, with the interquartile ranges: scale 1.0715 (1.027 .. 1.111), dx -0.0043
# (-0.009 .. 0.004), dy 0.0045 (-0.005 .. 0.013). So the training crop is the Haar box itself,
# 7% larger, with the same centre to within half a percent of the face's width. On all 13,233
# photos (`--photos 13233`): found in 13,138 (99.3%), scale 1.0645, dx -0.0039, dy 0.0043 (the
# box widths come in steps of the detector's 1.1 scale factor, and the median lands on the next
# step). Checked in the model's own terms on 300 other LFW photos, the median squared distance
# between the embeddings of our crop and of the pipeline's crop is 0.063 / 0.048 / 0.044 / 0.051 /
# 0.073 for a scale of 1.0 / 1.035 / 1.071 / 1.11 / 1.15: the measured constant is the best one.
CROP_SCALE = 1.071
CROP_DX = -0.004
CROP_DY = 0.004

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", "PPM")  # Pillow's names
_FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "BMP": "BMP", "GIF": "GIF", "TIFF": "TIFF",
                 "PPM": "PPM/PGM", "AVIF": "AVIF"}


class FaceInputError(ValueError):
    """A photo that cannot be turned into a face crop. The message is for the user: it says what is
    wrong with the photo and what to do about it."""


@dataclass
class PreparedFace:
    """One face, ready for the network, and what the page needs to show where it came from.

    Boxes are (x0, y0, x1, y1) in pixels of the original photo, upright (after its EXIF
    orientation), like `model.data.LFW_FACE_BOX`.
    """

    crop: np.ndarray  # (S, S, 3) uint8 RGB, framed like the training crops; S = the model's input size
    box: tuple[float, float, float, float]  # the chosen face as the detector found it
    crop_box: tuple[float, float, float, float]  # the square cut out for `crop` (may reach outside the
    #   photo); when `roll` is not 0 the crop is cut from the face turned by `roll` about this square's centre
    num_faces: int  # how many faces were found
    boxes: list[tuple[float, float, float, float]]  # every face found, largest first
    chosen: int  # index of the chosen face in `boxes` (box == boxes[chosen])
    photo: np.ndarray  # (H, W, 3) uint8 RGB, upright, downscaled to at most DISPLAY_MAX_SIDE
    photo_scale: float  # pixels of `photo` per pixel of the original photo
    original_size: tuple[int, int]  # (width, height) of the original photo, upright
    format: str  # the file format, as Pillow names it ("JPEG", "PNG", ...)
    roll: float = 0.0  # degrees the face was turned to level its eyes before cropping (0: not turned)
    notes: list[str] = field(default_factory=list)  # what was done to the photo, in plain words

    @property
    def photo_boxes(self) -> list[tuple[float, float, float, float]]:
        """`boxes` in the pixels of `photo` (for drawing them on it)."""
        s = self.photo_scale
        return [tuple(v * s for v in b) for b in self.boxes]


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def supported_formats() -> list[str]:
    """The formats `prepare_face` reads, in words (AVIF only where this Pillow reads it)."""
    names = [_FORMAT_NAMES[f] for f in _formats()]
    return names


def _formats() -> tuple[str, ...]:
    Image.init()
    extra = ("AVIF",) if "AVIF" in Image.OPEN else ()
    return SUPPORTED_FORMATS + extra


def _format_list() -> str:
    names = supported_formats()
    return ", ".join(names[:-1]) + " or " + names[-1]


NO_FACE_TIPS = ("Tips: face the camera with your whole face in view (no strong tilt, nothing covering "
                "the eyes), use good, even light, and make the face a good part of the photo "
                "(at least about a twentieth of its width). A photo of one person works best.")


def _sniff(data: bytes) -> str | None:
    """A name for well-known formats that are not images we read, from their first bytes."""
    head = data[:64]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"):
            return "HEIC/HEIF (the iPhone's 'High Efficiency' format)"
        if brand in (b"avif", b"avis"):
            return "AVIF"
        return "a video or other MP4-family file"
    if head.startswith(b"%PDF"):
        return "PDF"
    stripped = head.lstrip()
    if stripped.startswith(b"<") and (b"svg" in data[:2048].lower() or stripped.startswith(b"<?xml")):
        return "SVG/XML"
    if stripped[:1] in (b"<", b"{", b"[") or head.startswith(b"\xef\xbb\xbf"):
        return "text (HTML, JSON or similar)"
    if head.startswith(b"8BPS"):
        return "Photoshop (PSD)"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "an icon (ICO)"
    if head.startswith(b"\xff\x0a") or head[4:12] == b"JXL \r\n\x87\n":
        return "JPEG XL"
    if head.startswith(b"\x00\x00\x00\x0cjP  ") or head.startswith(b"\xff\x4f\xff\x51"):
        return "JPEG 2000"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (or an office document)"
    if head[:4] in (b"II*\x00", b"MM\x00*") and b"CR" in head[8:10]:
        return "a camera RAW file"
    return None


def _magic(data: bytes) -> str | None:
    """The supported format whose signature `data` starts with, if any (Pillow's name)."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:2] == b"BM":
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if len(head) > 2 and head[:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace():
        return "PPM"
    if head[4:12] in (b"ftypavif", b"ftypavis") and "AVIF" in _formats():
        return "AVIF"
    return None


def _unsupported_message(data: bytes) -> str:
    fmt = _magic(data)
    if fmt is not None:  # the signature of a format we read, but Pillow could not open it
        return _damaged_message(fmt)
    kind = _sniff(data)
    if kind and "HEIC" in kind:
        return ("This photo is in HEIC/HEIF format (the iPhone's 'High Efficiency' format), which cannot be "
                "read here. On the iPhone, share or export it as JPEG (or set Settings > Camera > Formats > "
                f"Most Compatible), then upload it again. Supported formats: {_format_list()}.")
    what = f"This file looks like {kind}, not a photo" if kind else "This file is not an image"
    return (f"{what} this page can read. Supported formats: {_format_list()}. Please choose a photo in one "
            "of these formats (phones and cameras save JPEG), or export this one as JPEG or PNG.")


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


@dataclass
class _Decoded:
    rgb: np.ndarray  # (h, w, 3) uint8, upright, long side <= WORK_MAX_SIDE
    scale: float  # pixels of `rgb` per pixel of the original (upright) photo
    original_size: tuple[int, int]  # (width, height), upright
    format: str
    notes: list[str]


def _as_bytes(data) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        if isinstance(data, memoryview) and data.nbytes > MAX_UPLOAD_BYTES:
            return bytes(data[: MAX_UPLOAD_BYTES + 1])
        return bytes(data)
    getvalue = getattr(data, "getvalue", None)  # Streamlit's UploadedFile, io.BytesIO
    if callable(getvalue):
        return _as_bytes(getvalue())
    read = getattr(data, "read", None)  # an open binary file
    if callable(read):
        return _as_bytes(read(MAX_UPLOAD_BYTES + 1))
    raise FaceInputError("Expected the photo's bytes (for example uploaded_file.getvalue()), "
                         f"not {type(data).__name__}.")


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _check_size(data: bytes) -> None:
    if len(data) == 0:
        raise FaceInputError("The file is empty (0 bytes). Please choose the photo again, or take a new one.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise FaceInputError(f"The file is {_megabytes(len(data))}, more than the limit of "
                             f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB. Please upload a smaller photo: "
                             "for example export it at a lower resolution, or save it as JPEG.")


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=list(_formats()))
    except Image.DecompressionBombError as err:
        raise FaceInputError(_bomb_message()) from err
    except Image.DecompressionBombWarning as err:  # turned into an error by the caller's filter
        raise FaceInputError(_bomb_message()) from err
    except Exception as err:  # UnidentifiedImageError, or a header Pillow chokes on
        raise FaceInputError(_unsupported_message(data)) from err


def _bomb_message(size: tuple[int, int] | None = None) -> str:
    what = f" ({size[0]:,} x {size[1]:,} pixels)" if size else ""
    return (f"This image is far too large{what}: at most {MAX_PIXELS / 1e6:.0f} megapixels can be used. "
            "Please upload an ordinary photo, or shrink this one (for example to 2000 pixels on its long side).")


def _too_small_message(size: tuple[int, int]) -> str:
    return (f"This image is only {size[0]} x {size[1]} pixels, too small to hold a face the detector can find. "
            f"It must be at least {MIN_IMAGE_SIDE} x {MIN_IMAGE_SIDE} pixels; a photo of several hundred "
            "pixels, with the face clearly visible, works best.")


def _damaged_message(fmt: str) -> str:
    return (f"This {_FORMAT_NAMES.get(fmt, fmt)} file could not be decoded: it seems to be damaged or incomplete "
            "(for example cut short by an interrupted download). Please open the photo on your device and "
            "upload it again, or take a new one.")


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
        return int(value) if int(value) in range(1, 9) else 1
    except Exception:  # malformed EXIF: treat the photo as upright
        return 1


def _to_rgb(im: Image.Image, notes: list[str]) -> np.ndarray:
    """Any Pillow mode -> (h, w, 3) uint8 RGB; alpha is laid on BACKGROUND. Conversions run in
    Pillow's C code or in small integer types, so a 50-megapixel image stays within a few hundred MB."""
    mode = im.mode
    if mode.startswith("I;16"):
        grey = (np.asarray(im).astype(np.uint16, copy=False) >> 8).astype(np.uint8)  # 16 -> 8 bits
        _note(notes, "The 16-bit image was converted to 8 bits.")
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("I", "F"):
        a = np.asarray(im).astype(np.float32, copy=False)
        finite = np.isfinite(a)
        low = float(a[finite].min()) if finite.any() else 0.0
        top = float(a[finite].max()) if finite.any() else 0.0
        if mode == "F" and 0 <= low and top <= 1.0:  # floating point in 0..1
            grey = np.nan_to_num(a, nan=0.0) * 255.0
        elif 0 <= low and top <= 255:
            grey = np.nan_to_num(a, nan=0.0)
        elif 0 <= low and top <= 65535:
            grey = a / 257.0  # 16-bit values held in a 32-bit image (16-bit PNGs on older Pillows)
        else:  # any other range: stretch to 0..255
            grey = (np.nan_to_num(a, nan=low, posinf=top, neginf=low) - low) * (255.0 / max(top - low, 1e-12))
        grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
        _note(notes, f"The high bit-depth image ({mode}) was converted to 8 bits.")
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        alpha = rgba.getchannel("A")
        lowest, _ = alpha.getextrema()
        out = Image.new("RGB", rgba.size, BACKGROUND)
        out.paste(rgba.convert("RGB"), mask=alpha)
        if lowest < 255:
            _note(notes, "Transparent parts of the image were filled with white.")
        return np.asarray(out, dtype=np.uint8)
    if mode == "CMYK":
        _note(notes, "The CMYK image was converted to RGB.")
    if mode in ("L", "1"):
        _note(notes, "The photo is black and white; the model sees it as grey.")
    return np.asarray(im if mode == "RGB" else im.convert("RGB"), dtype=np.uint8)


def _note(notes: list[str], text: str) -> None:
    if text not in notes:
        notes.append(text)


def _pil_resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def _fit(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    k = max_side / max(h, w)
    return _pil_resize(rgb, (max(1, round(w * k)), max(1, round(h * k))))


_PIXEL_FORMATS = ("1", "L", "P", "RGB", "RGBA", "RGBa", "LA", "La", "PA", "CMYK", "YCbCr", "RGBX",
                  "I", "F", "I;16", "I;16L", "I;16B", "I;16N")


def decode_photo(data: bytes, min_side: int = WORK_MIN_SIDE, max_side: int = WORK_MAX_SIDE) -> _Decoded:
    """The photo's bytes -> upright 8-bit RGB with a long side of at most `max_side` (JPEGs are
    decoded at the smallest scale keeping `min_side`), or FaceInputError."""
    data = _as_bytes(data)
    _check_size(data)
    notes: list[str] = []
    with warnings.catch_warnings():
        # Pillow's remarks about odd files would go to stderr (a log): keep them quiet, and make its
        # decompression-bomb warning an error.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        im = _open(data)
        fmt = str(im.format or "?")
        try:
            w, h = im.size
            if w <= 0 or h <= 0:
                raise FaceInputError(_damaged_message(fmt))
            if w * h > MAX_PIXELS:
                raise FaceInputError(_bomb_message((w, h)))
            if min(w, h) < MIN_IMAGE_SIDE:
                raise FaceInputError(_too_small_message((w, h)))
            if im.mode not in _PIXEL_FORMATS:
                raise FaceInputError(f"This image's colour format ({im.mode}) cannot be used here. "
                                     "Please save it as an ordinary colour JPEG or PNG and upload it again.")
            try:
                if fmt != "MPO" and getattr(im, "is_animated", False):  # MPO: a phone JPEG with extra views
                    notes.append("The file holds several frames (an animation or pages); the first one was used.")
                im.seek(0)
            except EOFError:
                pass
            orientation = _orientation(im)
            if fmt in ("JPEG", "MPO") and max(w, h) > min_side:
                k = min_side / max(w, h)
                im.draft(None, (max(1, math.ceil(w * k)), max(1, math.ceil(h * k))))
            im.load()
            stored = im.size  # after draft: possibly 1/2, 1/4 or 1/8 of (w, h)
            if orientation != 1:
                try:
                    upright = ImageOps.exif_transpose(im)
                except Exception:  # a malformed tag: use the pixels as stored
                    upright = None
                if upright is not None:
                    im = upright
                    notes.append("The photo was turned upright, as its EXIF orientation tag says.")
            original = (h, w) if im.size != stored else (w, h)
            rgb = _to_rgb(im, notes)
        except FaceInputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as err:
            raise FaceInputError(_bomb_message()) from err
        except Exception as err:  # truncated or corrupt data, a sub-format Pillow cannot decode
            raise FaceInputError(_damaged_message(fmt)) from err
        finally:
            try:
                im.close()
            except Exception:
                pass
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise FaceInputError(_damaged_message(fmt))
    rgb = _fit(rgb, max_side)
    scale = rgb.shape[1] / original[0]
    return _Decoded(np.ascontiguousarray(rgb), scale, original, fmt, notes)


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

_lock = threading.Lock()  # a CascadeClassifier must not be used by two threads at once
_cascades: dict = {}


def _classifier(name: str = CASCADE_FILE):
    """One of OpenCV's Haar cascades, loaded once per process from the file inside the OpenCV wheel."""
    if name not in _cascades:
        import cv2

        path = Path(cv2.data.haarcascades) / name
        classifier = cv2.CascadeClassifier(str(path)) if path.is_file() else None
        if classifier is None or classifier.empty():
            raise FaceInputError("Face detection is not available on this installation: OpenCV's detector "
                                 f"file {name} is missing. The course needs opencv-python-headless 4.x "
                                 "(see requirements.txt); please tell the course's maintainer.")
        _cascades[name] = classifier
    return _cascades[name]


def _detect(grey: np.ndarray, min_size: int, max_size: int = 0, scale_factor: float = SCALE_FACTOR,
            min_neighbors: int = MIN_NEIGHBORS, cascade: str = CASCADE_FILE) -> np.ndarray:
    """Haar detections (n, 4) as x, y, w, h in `grey`'s pixels."""
    with _lock:
        found = _classifier(cascade).detectMultiScale(grey, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                                      minSize=(min_size, min_size),
                                                      maxSize=(max_size, max_size) if max_size else (0, 0))
    return np.asarray(found, dtype=np.float64).reshape(-1, 4)


def _grey(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _cut(image: np.ndarray, x0: float, y0: float, side: float, out: int, *, pil: bool) -> np.ndarray:
    """The square (x0, y0, side) of `image`, resized to out x out; parts outside repeat the edge pixels."""
    h, w = image.shape[:2]
    ix0, iy0 = math.floor(x0), math.floor(y0)
    ix1, iy1 = math.ceil(x0 + side), math.ceil(y0 + side)
    ix1, iy1 = max(ix1, ix0 + 1), max(iy1, iy0 + 1)
    inner = image[max(iy0, 0) : min(iy1, h), max(ix0, 0) : min(ix1, w)]
    if inner.size == 0:  # wholly outside (cannot happen for a detected face): nearest edge pixel
        cy, cx = min(max(iy0, 0), h - 1), min(max(ix0, 0), w - 1)
        inner = image[cy : cy + 1, cx : cx + 1]
    pads = ((max(0, -iy0), max(0, iy1 - h)), (max(0, -ix0), max(0, ix1 - w)))
    if image.ndim == 3:
        pads = pads + ((0, 0),)
    region = np.pad(inner, pads, mode="edge") if any(p for pair in pads for p in pair) else inner
    box = (x0 - ix0, y0 - iy0, x0 - ix0 + side, y0 - iy0 + side)
    if pil:
        return np.asarray(Image.fromarray(np.ascontiguousarray(region)).resize(
            (out, out), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0), dtype=np.uint8)
    import cv2

    k = out / side
    m = np.array([[k, 0, -box[0] * k], [0, k, -box[1] * k]], dtype=np.float64)
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
    if k < 1:  # area-average down to about the right size first, then place exactly
        f = max(1, int(1 / k))
        if f > 1:
            rh, rw = region.shape[:2]
            region = cv2.resize(region, (max(1, rw // f), max(1, rh // f)), interpolation=cv2.INTER_AREA)
            m[0, 0] *= rw / region.shape[1]
            m[1, 1] *= rh / region.shape[0]
            interp = cv2.INTER_LINEAR
    return cv2.warpAffine(region, m, (out, out), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def _refine(image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, bool]:
    """Look at one detection again in an LFW-like 250 x 250 window: (the box found there, True), or
    (the same box, False) when the window's scan does not find it again."""
    x, y, w, _ = box
    side = w * REFINE_FRAME / REFINE_FACE
    x0 = x + w / 2 - side / 2
    y0 = y + w / 2 - side / 2
    window = _cut(image, x0, y0, side, REFINE_FRAME, pil=False)
    if window.ndim == 3:
        window = _grey(window)
    found = _detect(window, min_size=int(REFINE_FACE / 1.5), max_size=int(REFINE_FACE * 1.5),
                    scale_factor=REFINE_SCALE_FACTOR)
    if len(found) == 0:
        return box, False
    centre = REFINE_FRAME / 2
    d = np.hypot(found[:, 0] + found[:, 2] / 2 - centre, found[:, 1] + found[:, 3] / 2 - centre)
    best = found[int(np.argmin(d))]
    if d.min() > 0.35 * best[2]:  # another face in the window, not this one
        return box, False
    k = side / REFINE_FRAME
    return np.array([x0 + best[0] * k, y0 + best[1] * k, best[2] * k, best[3] * k]), True


def _shrink(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """`rgb` with its long side at most `max_side` (the same array when it is already)."""
    h, w = rgb.shape[:2]
    k = min(1.0, max_side / max(h, w))
    return rgb if k == 1.0 else _pil_resize(rgb, (max(1, round(w * k)), max(1, round(h * k))))


def find_faces(rgb: np.ndarray, refine: bool = True, small: np.ndarray | None = None) -> np.ndarray:
    """Every face in an RGB image, as (n, 4) x, y, w, h in its pixels, largest first.

    The detector scans a grey copy of at most DETECT_MAX_SIDE pixels; when it finds nothing, a
    second scan with a finer step looks again, and its finds count only if the refinement window
    finds them too (a finer scan also finds more things that are not faces). With `refine`, each
    box is the one found in the LFW-like window (see REFINE_FRAME).
    """
    h, w = rgb.shape[:2]
    if small is None:  # `small`: the caller's copy of `rgb` shrunk to DETECT_MAX_SIDE, if it has one
        small = _shrink(rgb, DETECT_MAX_SIDE)
    k = small.shape[1] / w
    grey_small = _grey(small)
    if min(grey_small.shape) < MIN_FACE:
        return np.zeros((0, 4))
    found, second_chance = _detect(grey_small, MIN_FACE), False
    if len(found) == 0:
        found, second_chance = _detect(grey_small, MIN_FACE, scale_factor=FINE_SCALE_FACTOR), True
    kx, ky = w / small.shape[1], h / small.shape[0]
    found = found * np.array([kx, ky, kx, ky])
    if refine or second_chance:
        source = grey_small if k == 1.0 else rgb
        refined = [_refine(source, b) for b in found]
        found = np.array([box for box, confirmed in refined if confirmed or not second_chance]).reshape(-1, 4)
    order = np.lexsort((found[:, 0], -found[:, 2] * found[:, 3]))
    return found[order]


def _eye_roll(window: np.ndarray) -> float | None:
    """The roll of a face centred in a 250 x 250 grey window (face ~REFINE_FACE wide), in degrees,
    from the line through its two eyes (positive: the right-hand eye in the image is lower), or
    None when the eye cascade does not find a plausible pair."""
    top, left = 55, 50  # the band of the eyes: from the brows to below the eyes, a little wider than the face
    band = window[top:140, left:200]
    eyes = _detect(band, min_size=12, max_size=50, scale_factor=1.05, min_neighbors=3, cascade=EYE_CASCADE_FILE)
    centres = [(x + w / 2 + left, y + h / 2 + top, w) for x, y, w, h in eyes]
    best = None
    for lx, ly, lw in centres:
        for rx, ry, rw in centres:
            dx, dy = rx - lx, ry - ly
            if not (lx < REFINE_FRAME / 2 <= rx and 25 <= dx <= 90 and abs(dy) < 0.6 * dx and 0.6 < lw / rw < 1.6):
                continue
            score = abs(dx - 50) + abs((lx + rx) / 2 - REFINE_FRAME / 2)  # eyes ~50 px apart, either side of centre
            if best is None or score < best[0]:
                best = (score, math.degrees(math.atan2(dy, dx)))
    return None if best is None else best[1]


def _level(image: np.ndarray, box: np.ndarray, size: int) -> tuple[np.ndarray, float] | None:
    """The crop of the face `box` turned so that its eyes are level, and the angle turned; None when
    the eyes are not found or the face is already level (within MIN_ROLL degrees)."""
    import cv2

    x, y, w, _ = box
    side = w * REFINE_FRAME / REFINE_FACE
    window = _cut(image, x + w / 2 - side / 2, y + w / 2 - side / 2, side, REFINE_FRAME, pil=False)
    angle = _eye_roll(_grey(window) if window.ndim == 3 else window)
    if angle is None or not MIN_ROLL <= abs(angle) <= MAX_ROLL:
        return None
    # a square around the face, large enough to hold the crop at any angle, at most 768 px
    span = 3.0 * w
    out = int(min(math.ceil(span), 768))
    region = _cut(image, x + w / 2 - span / 2, y + w / 2 - span / 2, span, out, pil=False)
    turn = cv2.getRotationMatrix2D((out / 2, out / 2), angle, 1.0)
    turned = cv2.warpAffine(region, turn, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    f = out / span
    local = np.array([(x - (x + w / 2 - span / 2)) * f, (y - (y + w / 2 - span / 2)) * f, w * f, w * f])
    refined, _ = _refine(turned, local)
    x0, y0, s = crop_square(refined)
    return _cut(turned, x0, y0, s, size, pil=True), float(angle)


def crop_square(box: np.ndarray) -> tuple[float, float, float]:
    """The crop (x0, y0, side) that frames a Haar box (x, y, w, h) like LFW_FACE_BOX frames LFW faces."""
    x, y, w, h = (float(v) for v in box)
    side = CROP_SCALE * w
    cx = x + w / 2 + CROP_DX * w
    cy = y + h / 2 + CROP_DY * w
    return cx - side / 2, cy - side / 2, side


# --------------------------------------------------------------------------------------------
# The one public entry point
# --------------------------------------------------------------------------------------------


def _xyxy(box, scale: float) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) / scale for v in box)
    return (round(x, 2), round(y, 2), round(x + w, 2), round(y + h, 2))


def prepare_face(data: bytes, face: int | None = None, size: int = INPUT_SIZE) -> PreparedFace:
    """The bytes of a photo (upload or webcam shot) -> the face crop the model sees, and where it was.

    `face` chooses one of several faces by its index in `PreparedFace.boxes` (largest first);
    None takes the largest. `size` is the side of the crop (the model's input size).
    Raises FaceInputError, with a message for the user, for anything it cannot use.
    """
    try:
        return _prepare(data, face, size)
    except FaceInputError:
        raise
    except MemoryError as err:
        raise FaceInputError(_bomb_message()) from err
    except Exception as err:  # a bug or a library surprise: still a message, never a traceback
        raise FaceInputError("Sorry, this photo could not be processed. Please try another photo, or save this "
                             f"one again as JPEG or PNG and upload it again. ({type(err).__name__})") from err


def _prepare(data, face: int | None, size: int) -> PreparedFace:
    if not isinstance(size, int) or isinstance(size, bool) or not 8 <= size <= 1024:
        raise FaceInputError(f"The crop size must be a whole number of pixels from 8 to 1024, not {size!r}.")
    if face is not None and (not isinstance(face, (int, np.integer)) or isinstance(face, bool)):
        raise FaceInputError(f"Choose a face by its number (0 for the largest), not {face!r}.")
    data = _as_bytes(data)
    decoded = decode_photo(data)
    rgb = decoded.rgb
    display = _shrink(rgb, DISPLAY_MAX_SIDE)
    boxes = find_faces(rgb, small=display if DISPLAY_MAX_SIDE == DETECT_MAX_SIDE else None)
    n = len(boxes)
    if n == 0:
        raise FaceInputError(f"No face was found in this photo. {NO_FACE_TIPS}")
    chosen = 0 if face is None else int(face)
    if not 0 <= chosen < n:
        raise FaceInputError(f"Only {n} face{'s were' if n > 1 else ' was'} found in this photo, so there is no "
                             f"face number {chosen + 1}. Pick a face from 1 to {n}.")
    x0, y0, side = crop_square(boxes[chosen])
    source, k = rgb, 1.0
    if side < DETAIL * size and decoded.scale < 1.0:
        # A small face in a large photo: decode the photo again at the scale that gives the crop
        # DETAIL x its size in pixels (at most the full size), so the crop is not an upscaled blur.
        want = min(1.0, decoded.scale * DETAIL * size / side)
        long_side = math.ceil(max(decoded.original_size) * want)
        finer = decode_photo(data, min_side=long_side, max_side=max(decoded.original_size))  # no resize
        source, k = finer.rgb, finer.scale / decoded.scale
        boxes[chosen] = _refine(source, boxes[chosen] * k)[0] / k  # the box again, seen in more detail
        x0, y0, side = crop_square(boxes[chosen])
    roll = 0.0
    if LEVEL_EYES:
        leveled = _level(source, boxes[chosen] * k, size)
        if leveled is not None:
            crop, roll = leveled
    if roll == 0.0:
        crop = _cut(source, x0 * k, y0 * k, side * k, size, pil=True)
    del source
    notes = list(decoded.notes)
    if roll:
        notes.append(f"The face was tilted by {abs(roll):.0f} degrees; it was turned level for the crop.")
    if n > 1:
        which = "the largest" if face is None else f"face {chosen + 1}"
        notes.append(f"{n} faces were found; {which} was used.")
    s = decoded.scale
    photo_scale = display.shape[1] / decoded.original_size[0]
    return PreparedFace(
        crop=np.array(crop, dtype=np.uint8),  # a writable copy (torch.as_tensor warns on read-only arrays)
        box=_xyxy(boxes[chosen], s),
        crop_box=(round(x0 / s, 2), round(y0 / s, 2), round((x0 + side) / s, 2), round((y0 + side) / s, 2)),
        num_faces=n,
        boxes=[_xyxy(b, s) for b in boxes],
        chosen=chosen,
        photo=np.array(display, dtype=np.uint8),
        photo_scale=photo_scale,
        original_size=decoded.original_size,
        format=decoded.format,
        roll=round(roll, 1),
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# Calibration (run by bench/bench_faces.py --calibrate, checked by tests/model/test_faces.py)
# --------------------------------------------------------------------------------------------


def calibrate(photos, refine: bool = True) -> dict:
    """Measure how LFW_FACE_BOX relates to the Haar box on LFW photos (250 x 250 RGB arrays).

    For each photo the face nearest the frame's centre is kept (LFW photos may show other people
    too); the LFW box is expressed in units of that Haar box's width. Returns the medians (the
    constants CROP_SCALE, CROP_DX, CROP_DY), their spread, and how many photos had a face.
    """
    x0, y0, x1, y1 = LFW_FACE_BOX
    lfw_side, lfw_cx, lfw_cy = x1 - x0, (x0 + x1) / 2, (y0 + y1) / 2
    rows, total = [], 0
    for rgb in photos:
        total += 1
        found = find_faces(np.asarray(rgb), refine=refine)
        if len(found) == 0:
            continue
        h, w = rgb.shape[:2]
        fx = LFW_FRAME / w
        centres = np.hypot(found[:, 0] + found[:, 2] / 2 - w / 2, found[:, 1] + found[:, 3] / 2 - h / 2)
        i = int(np.argmin(centres))
        if centres[i] * fx > 40:  # the face nearest the centre is not the subject: not found
            continue
        bx, by, bw, bh = found[i] * fx
        rows.append((lfw_side / bw, (lfw_cx - (bx + bw / 2)) / bw, (lfw_cy - (by + bh / 2)) / bw, bw))
    a = np.array(rows).reshape(-1, 4)
    med = np.median(a, axis=0) if len(a) else np.full(4, np.nan)
    q = (lambda col: tuple(np.percentile(a[:, col], [25, 75]))) if len(a) else (lambda col: (np.nan, np.nan))
    return {"photos": total, "found": len(a), "scale": float(med[0]), "dx": float(med[1]), "dy": float(med[2]),
            "haar_width": float(med[3]), "scale_iqr": q(0), "dx_iqr": q(1), "dy_iqr": q(2)}
