"""Turn any picture of a digit into a 28x28 input centred the way MNIST digits are.

MNIST's recipe (LeCun et al.): the digit is scaled, keeping its aspect ratio, to fit
a 20x20 box, then placed in a 28x28 field so that its centre of mass is at the
centre. Digits are white on black. Photos of ink on paper are dark on light, so the
polarity is detected from the border and inverted when needed.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vae.errors import VAEError
from vae.upload import MAX_UPLOAD_BYTES  # larger is refused before decoding

MAX_PIXELS = 50_000_000  # below PIL's own bomb threshold, so we refuse first and say why
WORK_SIDE = 1024  # larger pictures are reduced first: 28x28 needs no more detail
FIELD = 28
BOX = 20
MIN_CONTRAST = 0.1  # ink must differ from the background by this much of the full range
NOISE_FLOOR = 0.15  # after stretching, fainter pixels are background (paper grain, JPEG noise)
PEAK_PERCENTILE = 99.9  # the ink's brightness: a few hot pixels (sensor noise) do not set it
PERCENTILE_MIN_PIXELS = 1000  # below this many pixels the brightest one is the peak
INVERT_CHOICES = ("auto", "yes", "no")


class ImageError(VAEError, ValueError):
    """The picture cannot be read or used as a digit."""


class NoDigitError(ImageError):
    """The picture is readable but holds no visible digit (blank, uniform or 1x1)."""


def prepare_digit(image: bytes | np.ndarray | Image.Image, invert: str = "auto") -> np.ndarray:
    """Any picture of one digit -> uint8 [28, 28], white digit on black, MNIST-centred.

    image: encoded file bytes (PNG, JPEG, GIF, BMP, TIFF, WebP, ...), a PIL image, or
    an array [H, W], [H, W, 1], [H, W, 3] or [H, W, 4] (uint8, uint16, bool or float
    in [0, 1]). invert: "auto" inverts a dark-on-light picture, "yes" always, "no" never.
    Raises ImageError (or NoDigitError) with a message saying what to do.
    """
    if invert not in INVERT_CHOICES:
        raise ValueError(f"invert must be one of {INVERT_CHOICES}, not {invert!r}.")
    if isinstance(image, bytes | bytearray | memoryview):
        gray, alpha = _pil_to_gray(_open(bytes(image)))
    elif isinstance(image, Image.Image):
        gray, alpha = _pil_to_gray(_reduce(ImageOps.exif_transpose(image)))
    else:
        gray, alpha = _array_to_gray(image)
    if alpha is not None:
        gray = _composite(gray, alpha)
    ink = _ink(gray, invert)
    return _centre(ink)


def browser_constants() -> dict[str, float]:
    """The constants the Your digit page's JavaScript copy of these steps needs.

    components/draw_pad/frontend/prepare.js repeats ``prepare_digit`` for a drawing (a
    light-on-dark 8-bit canvas) so the live encoding needs no server; it takes its
    numbers from here.
    """
    return {
        "field": FIELD,
        "box": BOX,
        "min_contrast": MIN_CONTRAST,
        "noise_floor": NOISE_FLOOR,
        "peak_percentile": PEAK_PERCENTILE,
        "percentile_min_pixels": PERCENTILE_MIN_PIXELS,
    }


def drawn_digit(pixels: object) -> np.ndarray:
    """A prepared digit sent back by the drawing pad -> uint8 [28, 28].

    pixels: 784 integers in 0..255, row-major. Raises ImageError if it is anything else,
    so a stale or tampered value is refused rather than encoded.
    """
    try:
        arr = np.asarray(pixels, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ImageError("The drawing arrived garbled. Clear it and draw again.") from exc
    if arr.shape != (FIELD * FIELD,):
        raise ImageError(
            f"The drawing must be {FIELD}x{FIELD} = {FIELD * FIELD} pixels; got shape "
            f"{arr.shape}. Clear it and draw again."
        )
    if (
        not np.all(np.isfinite(arr))
        or np.any(arr != np.round(arr))
        or arr.min() < 0
        or arr.max() > 255
    ):
        raise ImageError("The drawing's pixels must be whole numbers from 0 to 255. Draw again.")
    return arr.reshape(FIELD, FIELD).astype(np.uint8)


# --- reading ---------------------------------------------------------------------
def _open(data: bytes) -> Image.Image:
    if not data:
        raise ImageError("The file is empty. Upload a PNG or JPEG picture of a digit.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(
            f"The file is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB. "
            "Crop or shrink the picture and upload it again."
        )
    try:
        with warnings.catch_warnings():
            # PIL only warns below twice its limit; a bomb must be an error here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            _check_size(img.size)
            if img.format == "JPEG":  # decode at a reduced scale: far less memory and time
                img.draft("L", (WORK_SIDE, WORK_SIDE))
            img.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(_too_big_message()) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            "This file is not an image PIL can read. Upload a PNG, JPEG, GIF, BMP, TIFF "
            "or WebP picture of a digit."
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageError(
            f"The image file is corrupt or truncated ({exc}). Save it again and re-upload."
        ) from exc
    # Phone photos store their rotation in EXIF; a bad EXIF block should not lose the picture.
    with contextlib.suppress(Exception):
        img = ImageOps.exif_transpose(img)
    return _reduce(img)


def _check_size(size: tuple[int, int]) -> None:
    w, h = size
    if w < 1 or h < 1:
        raise ImageError("The image has no pixels. Upload a picture of a digit.")
    if w * h > MAX_PIXELS:
        raise ImageError(_too_big_message(w, h))


def _too_big_message(w: int | None = None, h: int | None = None) -> str:
    size = f" ({w}x{h} pixels)" if w else ""
    return (
        f"The image is too large{size}; the limit is {MAX_PIXELS // 1_000_000} megapixels. "
        "Crop it around the digit or shrink it and upload it again."
    )


def _reduce(img: Image.Image) -> Image.Image:
    """Shrink a big picture by an integer factor; later steps never need more than WORK_SIDE."""
    _check_size(img.size)
    if img.mode == "P":  # palette indices cannot be averaged
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    factor = max(img.size) // WORK_SIDE
    if factor >= 2:
        try:
            img = img.reduce(factor)
        except (ValueError, NotImplementedError):  # a few rare modes cannot be reduced
            img = img.convert("RGBA").reduce(factor)
    return img


def _pil_to_gray(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """-> (gray float32 [H, W] in [0, 1], alpha float32 [H, W] or None)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        return _scale_wide(arr, mode), None
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        gray = np.asarray(img.convert("RGBA").convert("L"), dtype=np.float32) / 255.0
        return gray, rgba[..., 3]
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0, None


def _scale_wide(arr: np.ndarray, mode: str) -> np.ndarray:
    """16-bit, 32-bit integer or float pixels -> [0, 1]."""
    if not np.all(np.isfinite(arr)):
        raise ImageError("The image holds NaN or infinite pixel values. Export it again as PNG.")
    if mode.startswith("I;16"):
        top = 65535.0
    else:  # "I" and "F" carry no declared range: guess it from the values
        peak = float(arr.max()) if arr.size else 0.0
        top = 1.0 if peak <= 1.0 else 255.0 if peak <= 255.0 else 65535.0 if peak <= 65535 else peak
        arr = arr - min(0.0, float(arr.min()))
    return np.clip(arr / top, 0.0, 1.0).astype(np.float32)


def _array_to_gray(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        arr = np.asarray(image)
    except Exception as exc:  # anything that is not array-like
        raise ImageError(f"Cannot read {type(image).__name__} as an image.") from exc
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ImageError(
            f"An image array must be [H, W], [H, W, 3] or [H, W, 4]; got shape {arr.shape}."
        )
    _check_size((arr.shape[1], arr.shape[0]))
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    elif arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    elif np.issubdtype(arr.dtype, np.number):
        arr = _scale_wide(arr.astype(np.float64), "F")
    else:
        raise ImageError(f"Cannot read an array of {arr.dtype} as an image.")
    if arr.ndim == 2:
        gray, alpha = arr, None
    else:
        gray = arr[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601, as PIL
        alpha = arr[..., 3] if arr.shape[-1] == 4 else None
    if max(gray.shape) > 2 * WORK_SIDE:
        gray, alpha = _shrink(gray), None if alpha is None else _shrink(alpha)
    return gray.astype(np.float32), alpha


def _shrink(a: np.ndarray) -> np.ndarray:
    img = Image.fromarray(a.astype(np.float32))
    factor = max(a.shape) // WORK_SIDE
    return np.asarray(img.reduce(factor), np.float32)


# --- from pixels to a centred digit ------------------------------------------------
def _composite(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Lay a transparent picture on the background that makes its ink visible.

    Dark strokes on transparency (a signature-style PNG) go on white; light strokes
    on black. The opaque pixels' mean brightness decides which.
    """
    opaque = alpha > 0.5
    if not opaque.any():
        raise NoDigitError(
            "The image is fully transparent: there is no digit to see. Draw or upload one."
        )
    background = 1.0 if float(gray[opaque].mean()) < 0.5 else 0.0
    return alpha * gray + (1.0 - alpha) * background


def _border(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])


def _ink(gray: np.ndarray, invert: str) -> np.ndarray:
    """-> float [H, W] in [0, 1], white ink on a black background, background at 0."""
    background = float(np.median(_border(gray)))
    if invert == "yes" or (invert == "auto" and background > 0.5):
        gray, background = 1.0 - gray, 1.0 - background
    big = gray.size > PERCENTILE_MIN_PIXELS
    peak = float(np.percentile(gray, PEAK_PERCENTILE)) if big else float(gray.max())
    if peak - background < MIN_CONTRAST:
        raise NoDigitError(
            "No digit found: the picture is blank or almost uniform. Draw a thicker digit "
            "or upload a picture with a clear dark-on-light or light-on-dark digit."
        )
    ink = np.clip((gray - background) / (peak - background), 0.0, 1.0)
    return np.where(ink < NOISE_FLOOR, 0.0, ink).astype(np.float32)


def _centre(ink: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # LANCZOS on floats antialiases the way MNIST's resampling did; clip its overshoot.
    box = np.asarray(
        Image.fromarray(np.ascontiguousarray(crop)).resize(size, Image.LANCZOS), np.float32
    )
    box = np.clip(box, 0.0, 1.0)
    if box.max() <= 0:
        raise NoDigitError("No digit found: the strokes vanish at 28x28. Draw them thicker.")
    box /= box.max()
    bh, bw = box.shape
    mass = box.sum()
    com_r = float((box.sum(axis=1) * np.arange(bh)).sum() / mass)
    com_c = float((box.sum(axis=0) * np.arange(bw)).sum() / mass)
    # Integer shift as MNIST did; clamped so no ink falls off the 28x28 field.
    top = int(np.clip(round(FIELD / 2 - com_r), 0, FIELD - bh))
    left = int(np.clip(round(FIELD / 2 - com_c), 0, FIELD - bw))
    field = np.zeros((FIELD, FIELD), np.float32)
    field[top : top + bh, left : left + bw] = box
    return (field * 255.0 + 0.5).astype(np.uint8)
