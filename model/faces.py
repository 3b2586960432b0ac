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
   decompression bombs (more than `MAX_PIXELS`), images too small to hold a face, and images whose
   decode would take more than `MAX_DECODE_BYTES` of memory, as their header tells before any pixel
   is decoded (`decode_bytes`: a small file can hold a huge image, such as 7000 x 7000 pixels of
   16-bit grey in 0.1 MB);
2. decodes the photo from memory only, within a process-wide memory budget (`DECODE_BUDGET_BYTES`:
   a class uploading at once queues instead of multiplying the memory), the first frame of
   animations only, JPEGs at a reduced scale with `draft` when they are large; brings every frame
   down to the working size in Pillow's C code, a band of rows at a time, before any array is made
   of it; honours the EXIF orientation of phone photos, and converts every colour mode to 8-bit RGB
   (CMYK, 16-bit, floating point, palette; transparency is laid on white);
3. finds the faces with OpenCV's Haar cascades shipped inside the opencv-python-headless wheel
   (frontal face alt2, and the eye cascade; loaded once, nothing downloaded), looks at each face
   again in a window framed like an LFW photo, and chooses one (the largest unless told otherwise);
4. cuts the crop so that it is framed like the training crops: `model.data.crop_and_resize` cuts
   LFW_FACE_BOX = (65, 65, 185, 185) out of LFW's 250 x 250 deep-funneled frame. How a Haar box
   relates to that square was measured on LFW itself (see `CROP_SCALE`, `CROP_DX`, `CROP_DY`).
   A small face in a large photo is cut from a finer decode (as fine as `MAX_DECODE_BYTES` allows,
   and only the part around the face is kept); a tilted face is turned level first (its eyes found
   with the eye cascade), as LFW's deep-funneled faces are upright. `prepare_faces` crops every
   face of a photo (its `MAX_FACES` largest) from one decode, for a page that keeps no bytes.

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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

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
REGION = 6.0  # ... of which only a square REGION x the face's width around the face is kept
MAX_DECODE_BYTES = 96 * 1024 * 1024  # the most memory decoding one photo may take, estimated from its header
DECODE_BUDGET_BYTES = 128 * 1024 * 1024  # what the decodes running at once in this process may take together
MAX_FACES = 8  # prepare_faces: the largest faces of a photo that get a crop
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
    wrong with the photo and what to do about it. `photo` is the photo itself (RGB, upright, at most
    DISPLAY_MAX_SIDE) when it could be decoded but was refused all the same (no face found), so the
    page can show the user which photo the message is about; None otherwise."""

    def __init__(self, message: str, photo: np.ndarray | None = None):
        super().__init__(message)
        self.photo = photo


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
                "the eyes) and use good, even light. The face may fill the whole photo (an ID photo or a "
                "face cut out of a larger photo is fine) or be as small as about a twentieth of the "
                "photo's width. A photo of one person works best.")
DARK, BRIGHT, FLAT = 45, 215, 10  # mean and spread of a photo's grey levels (0-255) that explain a miss


def no_face_message(rgb: np.ndarray) -> str:
    """Why no face was found in `rgb` (the photo as decoded), as far as the photo itself tells, and
    what to do about it. Every face search has then looked at the photo as it is and with a border
    around it (see `find_faces_padded`), so a face that fills the photo is not what went wrong."""
    grey = np.asarray(rgb, dtype=np.float32).mean(axis=2) if rgb.ndim == 3 else np.asarray(rgb, np.float32)
    h, w = grey.shape[:2]
    level, spread = float(grey.mean()), float(grey.std())
    if level < DARK:
        why = ("The photo is very dark, so the eyes, nose and mouth hardly show: take it again with more "
               "light on the face (face a window or a lamp).")
    elif level > BRIGHT:
        why = ("The photo is very bright (overexposed), so the face's features are washed out: take it "
               "again out of direct sunlight, without a bright window behind you.")
    elif spread < FLAT:
        why = ("The photo is almost one flat colour, with no detail a face would have: check that it is "
               "the photo you meant (a finger over the camera's lens gives this).")
    elif min(h, w) < 3 * MIN_FACE:
        why = (f"The photo is small ({w} x {h} pixels): the face in it must be at least {MIN_FACE} pixels "
               "wide. A larger photo of the face is more likely to work.")
    else:
        why = ("The detector looks for an upright face seen from the front, with both eyes visible; "
               "a face turned to the side, tilted far or partly covered is often missed.")
    return f"No face was found in this photo. {why} {NO_FACE_TIPS}"


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
            "of these formats (phones and cameras save JPEG), or export this one as JPEG or PNG. "
            "(The upload box also takes HEIC/HEIF, the iPhone's format, only to explain how to save such "
            "a photo as JPEG.)")


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
    value_range: tuple[float, float] | None = None  # of a 32-bit image's values, mapped to 0..255


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


# How Pillow turns a photo upright for each EXIF orientation (as ImageOps.exif_transpose does)
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


def _upright(im: Image.Image, orientation: int) -> Image.Image:
    return im.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else im


def _stored_rect(rect: tuple[int, int, int, int], orientation: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The rectangle (x0, y0, x1, y1) of an upright image, as the same pixels' rectangle in the image
    as stored (`size`, its width and height as stored), before `_upright` turns it."""
    w, h = size

    def back(x: int, y: int) -> tuple[int, int]:
        return {1: (x, y), 2: (w - x, y), 3: (w - x, h - y), 4: (x, h - y), 5: (y, x), 6: (y, h - x),
                7: (w - y, h - x), 8: (w - y, x)}.get(orientation, (x, y))

    (ax, ay), (bx, by) = back(rect[0], rect[1]), back(rect[2], rect[3])
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


def _value_range(im: Image.Image) -> tuple[float, float] | None:
    """The lowest and highest finite values of a 32-bit image ("I" or "F"), read in bands of rows;
    None for other modes (their 8 or 16 bits need no range)."""
    if im.mode not in ("I", "F"):
        return None
    low, top = math.inf, -math.inf
    for _, band in _row_bands(im):
        a = np.asarray(band, dtype=np.float32)
        finite = a[np.isfinite(a)]
        if finite.size:
            low, top = min(low, float(finite.min())), max(top, float(finite.max()))
    return (low, top) if low <= top else (0.0, 0.0)


def _row_bands(im: Image.Image, pixels: int = 0):
    """`im` in bands of rows of about `pixels` pixels each (_BAND_PIXELS by default), as (first row,
    Pillow image), so that what is made of a large image is made a band at a time."""
    w, h = im.size
    step = max(1, (pixels or _BAND_PIXELS) // max(w, 1))
    for y in range(0, h, step):
        yield y, im.crop((0, y, w, min(h, y + step)))


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _grey_to_8_bits(a: np.ndarray, mode: str, value_range: tuple[float, float]) -> np.ndarray:
    if mode.startswith("I;16"):
        return (a.astype(np.uint16, copy=False) >> 8).astype(np.uint8)  # 16 -> 8 bits
    a = a.astype(np.float32, copy=False)
    low, top = value_range
    if mode == "F" and 0 <= low and top <= 1.0:  # floating point in 0..1
        grey = np.nan_to_num(a, nan=0.0) * 255.0
    elif 0 <= low and top <= 255:
        grey = np.nan_to_num(a, nan=0.0)
    elif 0 <= low and top <= 65535:
        grey = a / 257.0  # 16-bit values held in a 32-bit image (16-bit PNGs on older Pillows)
    else:  # any other range: stretch to 0..255
        grey = (np.nan_to_num(a, nan=low, posinf=top, neginf=low) - low) * (255.0 / max(top - low, 1e-12))
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


def _to_rgb(im: Image.Image, notes: list[str], value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Any Pillow mode -> (h, w, 3) uint8 RGB; alpha is laid on BACKGROUND. Converted a band of rows
    at a time, so that nothing but the result is as large as the image. `value_range`: the range of
    a 32-bit image's values that is mapped to 0..255 (default: its own)."""
    mode = im.mode
    w, h = im.size
    out = np.empty((h, w, 3), np.uint8)
    if mode.startswith("I;16") or mode in ("I", "F"):
        if mode in ("I", "F") and value_range is None:
            value_range = _value_range(im)
        for y, band in _row_bands(im):
            grey = _grey_to_8_bits(np.asarray(band), mode, value_range or (0.0, 0.0))
            out[y : y + grey.shape[0]] = grey[:, :, None]
        _note(notes, "The 16-bit image was converted to 8 bits." if mode.startswith("I;16")
              else f"The high bit-depth image ({mode}) was converted to 8 bits.")
        return out
    if _has_alpha(im):
        background = np.array(BACKGROUND, np.uint16)
        lowest = 255
        for y, band in _row_bands(im):
            rgba = np.asarray(band.convert("RGBA"))
            alpha = rgba[:, :, 3:].astype(np.uint16)  # 255 x 255 + 127 still fits in 16 bits
            lowest = min(lowest, int(alpha.min()))
            out[y : y + rgba.shape[0]] = (rgba[:, :, :3] * alpha + background * (255 - alpha) + 127) // 255
        if lowest < 255:
            _note(notes, "Transparent parts of the image were filled with white.")
        return out
    if mode == "CMYK":
        _note(notes, "The CMYK image was converted to RGB.")
    if mode in ("L", "1"):
        _note(notes, "The photo is black and white; the model sees it as grey.")
    for y, band in _row_bands(im):
        rgb = np.asarray(band if band.mode == "RGB" else band.convert("RGB"))
        out[y : y + rgb.shape[0]] = rgb
    return out


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


def _fit_mode(im: Image.Image) -> str | None:
    """The mode a band of `im` is converted to before it is resized (None: its own): averaging
    palette indices would mix unrelated colours, and a transparent colour must become alpha."""
    if im.mode == "1":
        return "L"
    if im.mode == "PA" or (im.mode in ("P", "L", "RGB") and "transparency" in im.info):
        return "RGBA"
    return "RGB" if im.mode == "P" else None


def _fit_frame(im: Image.Image, max_side: int) -> Image.Image:
    """The decoded frame brought down to at most `max_side` pixels on its long side before any
    array is made of it: an area average (Pillow's box filter), computed a band of rows at a time,
    so that nothing but the frame and the result is ever as large as the image."""
    w, h = im.size
    if max(w, h) <= max_side:
        return im
    k = max_side / max(w, h)
    nw, nh = max(1, round(w * k)), max(1, round(h * k))
    step = h / nh  # rows of the frame per row of the result
    rows = max(1, int(_BAND_PIXELS / w / step))
    convert = _fit_mode(im)
    out = None
    for top in range(0, nh, rows):
        end = min(nh, top + rows)
        y0, y1 = math.floor(top * step), min(h, math.ceil(end * step))
        band = im.crop((0, y0, w, y1))
        if convert:
            band = band.convert(convert)
        band = band.resize((nw, end - top), Image.Resampling.BOX, box=(0, top * step - y0, w, end * step - y0))
        if out is None:
            out = Image.new(band.mode, (nw, nh))
        out.paste(band, (0, top))
    return out


_PIXEL_FORMATS = ("1", "L", "P", "RGB", "RGBA", "RGBa", "LA", "La", "PA", "CMYK", "YCbCr", "RGBX",
                  "I", "F", "I;16", "I;16L", "I;16B", "I;16N")

# --------------------------------------------------------------------------------------------
# What a decode costs, known from the header
# --------------------------------------------------------------------------------------------
#
# Pillow holds the frame it decodes in 1 byte a pixel (1-bit, grey, palette), 2 (16-bit grey) or 4
# (everything else, RGB included). Some decoders hold more, whatever the scale; measured with the
# process's peak RSS on 4000 x 3000 images (Pillow 13, libjpeg-turbo, libwebp, libtiff), in bytes
# per pixel: baseline JPEG, PNG, GIF, BMP, PPM and uncompressed TIFF the frame alone (4.0 for RGB,
# 2.0 for 16-bit, 1.0 for grey or palette); a progressive JPEG keeps every DCT coefficient of the
# full-size image, 2 bytes a sample (3.0 more with 4:2:0 chroma, 6.0 with 4:4:4: 7.0 and 10.0 at full
# scale, 3.3 and 6.3 decoded at 1/4); WebP 16.0 (libwebp's two canvases and the copy it hands to
# Pillow); a compressed TIFF one strip or tile besides (a one-strip RGB TIFF: 7.0). Only the first
# frame of an animation or a multi-page file is ever decoded, so more frames cost nothing more.

_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}  # all others: 4
_BAND_PIXELS = 1 << 19  # pixels of a large image converted or resized at a time
_MODE_WORDS = {"1": "1-bit black and white", "L": "8-bit grey", "P": "palette colour", "RGB": "8-bit colour",
               "RGBA": "8-bit colour with transparency", "RGBa": "8-bit colour with transparency",
               "LA": "8-bit grey with transparency", "La": "8-bit grey with transparency",
               "PA": "palette colour with transparency", "CMYK": "CMYK colour", "YCbCr": "8-bit colour",
               "RGBX": "8-bit colour", "I": "32-bit whole-number grey", "F": "32-bit floating-point grey",
               "I;16": "16-bit grey", "I;16L": "16-bit grey", "I;16B": "16-bit grey", "I;16N": "16-bit grey"}


def _jpeg_divisor(size: tuple[int, int], long_side: int) -> int:
    """The scale (1, 2, 4 or 8) at which `draft` decodes a JPEG of `size` so that its long side is
    still at least `long_side` (Pillow's own rule)."""
    w, h = size
    if long_side <= 0 or max(w, h) <= long_side:
        return 1
    k = long_side / max(w, h)
    fewest = min(w // max(1, math.ceil(w * k)), h // max(1, math.ceil(h * k)))
    return next(s for s in (8, 4, 2, 1) if fewest >= s)


def _jpeg_coefficients(im: Image.Image, size: tuple[int, int]) -> int:
    """Bytes of DCT coefficients libjpeg keeps for a progressive JPEG of `size`: 64 coefficients of
    2 bytes per 8 x 8 block of each component, at the component's own sampling."""
    w, h = size
    layers = [layer for layer in getattr(im, "layer", None) or [] if len(layer) >= 3] or [("", 1, 1)] * len(im.getbands())
    most_h = max(max(1, int(layer[1])) for layer in layers)
    most_v = max(max(1, int(layer[2])) for layer in layers)
    total = 0
    for layer in layers:
        blocks_x = math.ceil(math.ceil(w * max(1, int(layer[1])) / most_h) / 8)
        blocks_y = math.ceil(math.ceil(h * max(1, int(layer[2])) / most_v) / 8)
        total += blocks_x * blocks_y * 64 * 2
    return total


def _tiff_strip(im: Image.Image) -> int:
    """Bytes of the strip or tile libtiff decodes a compressed TIFF through (0 for an uncompressed
    one, which Pillow reads itself)."""
    if im.info.get("compression", "raw") == "raw":
        return 0
    w, h = im.size
    try:
        tags = im.tag_v2
        bits = tags.get(258, (8,))
        per_pixel = max(1, math.ceil(sum(int(b) for b in (bits if isinstance(bits, tuple) else (bits,))) / 8))
        if 322 in tags and 323 in tags:
            return int(tags[322]) * int(tags[323]) * per_pixel
        return min(int(tags.get(278, h)), h) * w * per_pixel
    except Exception:  # odd tags: assume a strip as large as the frame
        return w * h * 4


def decode_bytes(im: Image.Image, fmt: str, size: tuple[int, int], divisor: int = 1,
                 fit: tuple[int, int] | None = (WORK_MIN_SIDE, WORK_MAX_SIDE)) -> int:
    """The memory, in bytes, that decoding the first frame of `im` (an image just opened: its
    header read, no pixel decoded) at 1/`divisor` of its full `size` (JPEG, `draft`) takes, with,
    for `fit` = (min_side, max_side), bringing it down to max_side (`_fit_frame`) and making 8-bit
    RGB of that (`_to_rgb`); the frame is closed once it has been brought down. `fit` None: the
    frame alone (small parts are cut from it)."""
    w, h = -(-size[0] // divisor), -(-size[1] // divisor)
    need = w * h * _BYTES_PER_PIXEL.get(im.mode, 4)
    if fmt in ("JPEG", "MPO") and im.info.get("progressive"):
        need += _jpeg_coefficients(im, size)
    elif fmt == "WEBP":
        need += 12 * w * h
    elif fmt == "TIFF":
        need += _tiff_strip(im)
    if fit is None:
        return need
    bands = 32 * _BAND_PIXELS  # a band's copies, at most about 32 bytes a pixel of it
    if max(w, h) <= fit[1]:  # the frame is the working image: held while RGB is made of it
        return need + 3 * w * h + bands
    k = fit[1] / max(w, h)
    pixels = max(1, round(w * k)) * max(1, round(h * k))
    fitted = pixels * _BYTES_PER_PIXEL.get(_fit_mode(im) or im.mode, 4)
    return max(need + fitted, fitted + 3 * pixels) + bands


def _memory_message(size: tuple[int, int], mode: str, fmt: str, need: int, progressive: bool) -> str:
    kind = {"WEBP": " WebP", "TIFF": " TIFF"}.get(fmt, " progressive JPEG" if progressive else "")
    return (f"This{kind} image would take about {need / 2**20:,.0f} MB of memory to open ({size[0]:,} x {size[1]:,} "
            f"pixels of {_MODE_WORDS.get(mode, mode)}), more than the {MAX_DECODE_BYTES // 2**20} MB one photo may "
            "use here. Please upload an ordinary photo (phones and cameras save 8-bit JPEG), or shrink this one, "
            "for example to 2000 pixels on its long side, and save it as JPEG.")


class _MemoryBudget:
    """Bytes that decodes running at the same time may take together: a decode waits until its
    estimate fits beside the others' (one alone always runs), so that a class uploading at once
    queues for memory instead of multiplying it."""

    def __init__(self, total: int):
        self.total, self.used = total, 0
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, need: int):
        with self._changed:
            while self.used and self.used + need > self.total:
                self._changed.wait()
            self.used += need
        try:
            yield
        finally:
            with self._changed:
                self.used -= need
                self._changed.notify_all()


_budget = _MemoryBudget(DECODE_BUDGET_BYTES)


@dataclass
class _Frame:
    """A photo's first frame, decoded as stored (before its EXIF orientation)."""

    image: Image.Image  # at 1/divisor of the full size (JPEG) or full size
    format: str
    orientation: int  # EXIF, 1..8
    size: tuple[int, int]  # full size as stored (width, height)
    divisor: int


def _with_frame(data: bytes, notes: list[str], use, long_side: int = 0, coarsen: bool = False,
                fit: tuple[int, int] | None = (WORK_MIN_SIDE, WORK_MAX_SIDE)):
    """Check the photo's header, decode its first frame within the memory budget, and return
    `use(_Frame)`, computed while the frame is held. JPEGs are decoded at the smallest scale keeping
    `long_side` (`draft`; 0: full size); with `coarsen`, at a coarser one where that one would take
    more than MAX_DECODE_BYTES. FaceInputError for anything refused, before any pixel is decoded."""
    data = _as_bytes(data)
    _check_size(data)
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
            divisor = _jpeg_divisor((w, h), long_side) if fmt in ("JPEG", "MPO") else 1
            need = decode_bytes(im, fmt, (w, h), divisor, fit)
            while coarsen and need > MAX_DECODE_BYTES and fmt in ("JPEG", "MPO") and divisor < 8:
                divisor *= 2
                need = decode_bytes(im, fmt, (w, h), divisor, fit)
            if need > MAX_DECODE_BYTES:
                raise FaceInputError(_memory_message((w, h), im.mode, fmt, need, bool(im.info.get("progressive"))))
            if divisor > 1:
                im.draft(None, (w // divisor, h // divisor))
            with _budget.hold(need):
                im.load()
                orientation = _orientation(im)  # after load: Pillow decodes a PNG to look for its EXIF
                return use(_Frame(im, fmt, orientation, (w, h), divisor))
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


def decode_photo(data: bytes, min_side: int = WORK_MIN_SIDE, max_side: int = WORK_MAX_SIDE) -> _Decoded:
    """The photo's bytes -> upright 8-bit RGB with a long side of at most `max_side` (JPEGs are
    decoded at the smallest scale keeping `min_side`), or FaceInputError. What the decode would
    cost is checked from the header first (`decode_bytes`, at most MAX_DECODE_BYTES), and the frame
    is brought down to `max_side` before any array is made of it."""
    notes: list[str] = []

    def use(frame: _Frame):
        fitted = _fit_frame(frame.image, max_side)
        if fitted is not frame.image:
            frame.image.close()  # frees the frame: only what was made of it is needed from here on
        im = _upright(fitted, frame.orientation)
        if frame.orientation in _UPRIGHT:
            notes.append("The photo was turned upright, as its EXIF orientation tag says.")
        value_range = _value_range(im)
        return _to_rgb(im, notes, value_range), value_range, frame

    rgb, value_range, frame = _with_frame(data, notes, use, long_side=min_side, fit=(min_side, max_side))
    w, h = frame.size
    original = (h, w) if frame.orientation >= 5 else (w, h)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise FaceInputError(_damaged_message(frame.format))
    rgb = _fit(rgb, max_side)
    scale = rgb.shape[1] / original[0]
    return _Decoded(np.ascontiguousarray(rgb), scale, original, frame.format, notes, value_range)


def _finer_regions(data: bytes, decoded: _Decoded, want: float,
                   regions: list[tuple[float, float, float, float]]) -> tuple[float, list] | None:
    """Parts of a finer decode of the photo: `regions` (x0, y0, x1, y1 in pixels of the original
    photo, upright) cut out of its frame as stored, before anything else is made of it. The frame
    has `want` pixels per original pixel where MAX_DECODE_BYTES allows it (JPEGs), fewer where not,
    the full size for other formats. Returns (its pixels per original pixel, [(rgb, (x, y)), ...]:
    each region's pixels and where its corner lies in the finer frame, upright), or None when no
    decode finer than `decoded` fits."""
    long_side = math.ceil(max(decoded.original_size) * min(1.0, want))

    def use(frame: _Frame):
        im, orientation = frame.image, frame.orientation
        k = im.size[0] / frame.size[0]  # frame pixels per original pixel
        if k <= decoded.scale * 1.01:
            return None
        upright = im.size if orientation < 5 else im.size[::-1]
        cuts = []
        for x0, y0, x1, y1 in regions:
            rect = (max(0, math.floor(x0 * k)), max(0, math.floor(y0 * k)),
                    min(upright[0], math.ceil(x1 * k)), min(upright[1], math.ceil(y1 * k)))
            if rect[2] <= rect[0] or rect[3] <= rect[1]:
                return None
            part = _upright(im.crop(_stored_rect(rect, orientation, im.size)), orientation)
            cuts.append((_to_rgb(part, [], decoded.value_range), (float(rect[0]), float(rect[1]))))
        return k, cuts

    return _with_frame(data, [], use, long_side=long_side, coarsen=True, fit=None)


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


# A photo that is itself a face crop (an ID photo, an avatar, a face dataset's crop) shows the face
# from the brows to the chin and little else; the cascade, trained on faces with some of the head
# around them, misses most of them. Looked at again with a border of the photo's own edge colour
# around it, they are found. Measured by bench/bench_tight_crops.py on 200 LFW people (deep-funneled,
# seed 0; LFW's face box is the central 120 x 120 of 250 x 250), the central S x S of the photo as an
# upload: found as it is / also with a border of PAD x the long side on each side: S = 70: 1.5% / 93.5%,
# 80: 10.5% / 97.5%, 100: 88.5% / 98.5%, 110: 95.0% / 99.0%, 140: 99.0% / 99.5%. (On 60 of them at
# 80 x 80, a border of 0.25 / 0.4 / 0.6 x the long side found 97 / 97 / 98% filled with the mean colour
# of the outermost pixels, 93 / 93 / 95% filled by repeating them.)
PAD = 0.45
FRAMED_NOTE = ("The face fills this photo, so it was found on a copy with a border added around it; "
               "where the crop reaches past the photo's edge, the edge's pixels are repeated.")


def find_faces_padded(rgb: np.ndarray, pad: float = PAD) -> np.ndarray:
    """`find_faces` on a copy of `rgb` with a border of `pad` x its long side on every side, filled
    with the mean colour of its outermost pixels; boxes in `rgb`'s pixels (they may reach outside it).
    For a photo in which `find_faces` finds nothing: a face that fills the photo is found this way."""
    h, w = rgb.shape[:2]
    p = max(1, round(pad * max(h, w)))
    edge = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).reshape(-1, rgb.shape[2] if rgb.ndim == 3 else 1)
    framed = np.empty((h + 2 * p, w + 2 * p) + rgb.shape[2:], dtype=np.uint8)
    framed[...] = edge.mean(axis=0).round().astype(np.uint8).reshape(rgb.shape[2:])
    framed[p : p + h, p : p + w] = rgb
    found = find_faces(framed)
    return found - np.array([p, p, 0.0, 0.0])


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
    return _guarded(lambda: _prepare(data, face, size)[0])


def prepare_faces(data: bytes, most: int = MAX_FACES, size: int = INPUT_SIZE) -> list[PreparedFace]:
    """Every face of a photo, largest first (the `most` largest), each as `prepare_face(data, face=i)`
    gives it, from one decode: for a page that keeps no photo's bytes, so that another face can be
    chosen later. The PreparedFaces share their `photo`. Raises FaceInputError as prepare_face does."""
    if not isinstance(most, int) or isinstance(most, bool) or most < 1:
        raise FaceInputError(f"The number of faces must be a whole number of at least 1, not {most!r}.")
    return _guarded(lambda: _prepare(data, None, size, most=most))


def _guarded(work):
    try:
        return work()
    except FaceInputError:
        raise
    except MemoryError as err:
        raise FaceInputError(_bomb_message()) from err
    except Exception as err:  # a bug or a library surprise: still a message, never a traceback
        raise FaceInputError("Sorry, this photo could not be processed. Please try another photo, or save this "
                             f"one again as JPEG or PNG and upload it again. ({type(err).__name__})") from err


def _prepare(data, face: int | None, size: int, most: int | None = None) -> list[PreparedFace]:
    if not isinstance(size, int) or isinstance(size, bool) or not 8 <= size <= 1024:
        raise FaceInputError(f"The crop size must be a whole number of pixels from 8 to 1024, not {size!r}.")
    if face is not None and (not isinstance(face, (int, np.integer)) or isinstance(face, bool)):
        raise FaceInputError(f"Choose a face by its number (0 for the largest), not {face!r}.")
    data = _as_bytes(data)
    decoded = decode_photo(data)
    rgb = decoded.rgb
    display = _shrink(rgb, DISPLAY_MAX_SIDE)
    boxes = find_faces(rgb, small=display if DISPLAY_MAX_SIDE == DETECT_MAX_SIDE else None)
    framed = len(boxes) == 0  # perhaps a face that fills the photo: look again with a border around it
    if framed:
        kx, ky = rgb.shape[1] / display.shape[1], rgb.shape[0] / display.shape[0]
        boxes = find_faces_padded(display) * np.array([kx, ky, kx, ky])
    n = len(boxes)
    if n == 0:
        raise FaceInputError(no_face_message(display), photo=np.array(display, dtype=np.uint8))
    if most is not None:
        chosen = list(range(min(n, most)))
    else:
        chosen = [0 if face is None else int(face)]
        if not 0 <= chosen[0] < n:
            raise FaceInputError(f"Only {n} face{'s were' if n > 1 else ' was'} found in this photo, so there is no "
                                 f"face number {chosen[0] + 1}. Pick a face from 1 to {n}.")
    # A small face in a large photo is cut from a finer decode (one for all such faces), at the scale
    # that gives its crop DETAIL x its size in pixels where memory allows, so the crop is not an
    # upscaled blur; only the parts around those faces are kept from it.
    sources: dict[int, tuple[np.ndarray, float, float, float]] = {}  # face -> (pixels, k, x, y)
    small = [i for i in chosen if crop_square(boxes[i])[2] < DETAIL * size and decoded.scale < 1.0]
    if small:
        want = max(decoded.scale * DETAIL * size / crop_square(boxes[i])[2] for i in small)
        regions = []
        for i in small:
            x, y, w, h = boxes[i] / decoded.scale
            cx, cy, half = x + w / 2, y + h / 2, REGION * w / 2
            regions.append((cx - half, cy - half, cx + half, cy + half))
        try:
            finer = _finer_regions(data, decoded, want, regions)
        except FaceInputError:  # no finer decode fits in memory: the working image it is
            finer = None
        if finer is not None:
            k_finer, cuts = finer
            for i, (pixels, (ox, oy)) in zip(small, cuts):
                sources[i] = (pixels, k_finer / decoded.scale, ox, oy)
    results = []
    for i in chosen:
        source, k, ox, oy = sources.get(i, (rgb, 1.0, 0.0, 0.0))
        shift = np.array([ox, oy, 0.0, 0.0])
        if i in sources:  # the box again, seen in more detail
            boxes[i] = (_refine(source, boxes[i] * k - shift)[0] + shift) / k
        x0, y0, side = crop_square(boxes[i])
        crop, roll = None, 0.0
        if LEVEL_EYES:
            leveled = _level(source, boxes[i] * k - shift, size)
            if leveled is not None:
                crop, roll = leveled
        if crop is None:
            crop = _cut(source, x0 * k - ox, y0 * k - oy, side * k, size, pil=True)
        results.append((i, crop, roll, (x0, y0, side)))
    del sources
    s = decoded.scale
    photo = np.array(display, dtype=np.uint8)
    photo_scale = display.shape[1] / decoded.original_size[0]
    all_boxes = [_xyxy(b, s) for b in boxes]
    prepared = []
    for i, crop, roll, (x0, y0, side) in results:
        notes = list(decoded.notes)
        if framed:
            notes.append(FRAMED_NOTE)
        if roll:
            notes.append(f"The face was tilted by {abs(roll):.0f} degrees; it was turned level for the crop.")
        if n > 1:
            largest = face is None if most is None else i == 0
            which = "the largest" if largest else f"face {i + 1}"
            notes.append(f"{n} faces were found; {which} was used.")
        prepared.append(PreparedFace(
            crop=np.array(crop, dtype=np.uint8),  # a writable copy (torch.as_tensor warns on read-only arrays)
            box=all_boxes[i],
            crop_box=(round(x0 / s, 2), round(y0 / s, 2), round((x0 + side) / s, 2), round((y0 + side) / s, 2)),
            num_faces=n,
            boxes=list(all_boxes),
            chosen=i,
            photo=photo,
            photo_scale=photo_scale,
            original_size=decoded.original_size,
            format=decoded.format,
            roll=round(roll, 1),
            notes=notes,
        ))
    return prepared


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
