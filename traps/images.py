"""Image checks, EXIF reading and thumbnails with Pillow (no database here)."""

import hashlib
import io
import math
import re
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO

from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

# Formats accepted, with the media type stored for each. Camera traps write
# JPEG. PNG is accepted because Pillow decodes it safely under the same pixel
# limit and some tools export single frames as PNG. HEIC is left out: no
# camera-trap model writes it and decoding it needs a native library
# (libheif) that is not on every machine; it gets its own message.
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
THUMBNAIL_SIZE = (400, 400)
# Capture times before this or after tomorrow come from a camera whose clock was
# reset (many default to 1970 or 2000) or garbled; they place no photo in time.
EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
HASH_CHUNK = 1024 * 1024
_CAMERA_SERIAL_AS_MODEL = re.compile(r"^[A-Z]{2,5}\d{3,}$")


class PhotoRejected(Exception):
    """A file that is not stored, with a reason a ranger can act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ImageInfo:
    format: str
    media_type: str
    width: int
    height: int


@dataclass(frozen=True)
class ExifData:
    camera_time: datetime | None
    make: str
    model: str
    serial: str
    raw: dict


def clean_file_name(name: str) -> str:
    """Return the client's file name for display, or reject a name that tries a path."""
    if not name:
        return ""
    if "\x00" in name or any(unicodedata.category(c) == "Cc" for c in name):
        raise PhotoRejected(
            "bad_name", _("The file name contains control characters; rename the file.")
        )
    if "/" in name or "\\" in name or name in {".", ".."} or name.startswith(".."):
        raise PhotoRejected(
            "bad_name",
            _("The file name “%(name)s” contains a folder path; send the file itself.")
            % {"name": name[:80]},
        )
    return name[:255]


def sha256_of(fileobj: IO[bytes]) -> tuple[str, int]:
    """Hash a file in chunks and return (hex digest, size in bytes)."""
    fileobj.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := fileobj.read(HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return digest.hexdigest(), size


def check_size(size: int, max_bytes: int) -> None:
    """Reject an empty or oversized file before anything decodes it."""
    if size == 0:
        raise PhotoRejected("empty", _("The file is empty (0 bytes); copy it from the card again."))
    if size > max_bytes:
        raise PhotoRejected(
            "too_large",
            _("The file is %(size)d MB; the limit is %(limit)d MB.")
            % {"size": size // (1024 * 1024), "limit": max_bytes // (1024 * 1024)},
        )


def inspect_image(fileobj: IO[bytes], max_pixels: int) -> ImageInfo:
    """Check by content that a file is a whole JPEG or PNG of sane size; decode nothing."""
    fileobj.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(fileobj)
            image_format = image.format or ""
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejected(
            "too_many_pixels",
            _("The image claims too many pixels to be a camera photo; it was not opened."),
        ) from exc
    except UnidentifiedImageError as exc:
        if _is_heic(fileobj):
            raise PhotoRejected(
                "unsupported_format",
                _("HEIC photos (from phones) are not accepted; send the camera's JPEG files."),
            ) from exc
        raise PhotoRejected(
            "not_an_image",
            _("This file is not a photo (its content is not an image, whatever its name)."),
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRejected("corrupt", _("The image is damaged and cannot be read.")) from exc
    if image_format not in ACCEPTED_FORMATS:
        raise PhotoRejected(
            "unsupported_format",
            _("%(format)s images are not accepted; send the camera's JPEG files.")
            % {"format": image_format or _("This kind of")},
        )
    if width * height > max_pixels:
        raise PhotoRejected(
            "too_many_pixels",
            _("The image has %(mp)d megapixels; the limit is %(limit)d.")
            % {"mp": width * height // 1_000_000, "limit": max_pixels // 1_000_000},
        )
    if image_format == "JPEG" and not _jpeg_is_complete(fileobj):
        raise PhotoRejected(
            "truncated",
            _("The photo is cut short (truncated); copy it from the card again."),
        )
    fileobj.seek(0)
    return ImageInfo(
        format=image_format,
        media_type=ACCEPTED_FORMATS[image_format],
        width=width,
        height=height,
    )


def _is_heic(fileobj: IO[bytes]) -> bool:
    fileobj.seek(0)
    head = fileobj.read(16)
    fileobj.seek(0)
    return head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"hevc"}


def _jpeg_is_complete(fileobj: IO[bytes]) -> bool:
    # A whole JPEG ends with the EOI marker (FF D9), possibly followed by a few
    # padding bytes; a copy cut short by a pulled card or a dropped connection
    # does not. Checking it here costs nothing; the full decode comes later.
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(max(0, size - 1024))
    tail = fileobj.read()
    fileobj.seek(0)
    return b"\xff\xd9" in tail


_LINE_BREAKS = re.compile(r"[\t\n\r\v\f\x85]+")


def clean_text(text: str) -> str:
    """Return EXIF text fit for a text or JSON column: no NUL, control or surrogate characters.

    Cameras write NULs inside strings and garbage after them; PostgreSQL refuses
    a NUL in text and in JSON, and a lone surrogate cannot be encoded at all.
    Tabs and line breaks become spaces so that words stay apart.
    """
    text = _LINE_BREAKS.sub(" ", text)
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cs"))


def _exif_text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return clean_text(str(value)).strip() if value is not None else ""


def _json_safe(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex() if len(value) <= 64 else f"<{len(value)} bytes>"
    if isinstance(value, tuple | list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN and Infinity are not JSON; PostgreSQL refuses them
    if isinstance(value, int | float | bool) or value is None:
        return value
    return clean_text(value if isinstance(value, str) else str(value))


def parse_exif_datetime(value: str) -> datetime | None:
    """Parse an EXIF 'YYYY:MM:DD HH:MM:SS' time; None when absent or impossible."""
    value = value.strip()
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M"):
        try:
            return datetime.strptime(value[:19], fmt)
        except ValueError:
            continue
    return None


# Capture times that renaming tools write into file names, used only when a
# photo's EXIF has no time: camtrapR's imageRename ("Station05__Camera1__
# 2012-6-14__5-38-10(1).JPG"), ISO-like stamps ("2024-05-01 06-00-00",
# "2024-05-01T06:00:00") and the compact stamps of phones and copy tools
# ("IMG_20240501_060000.jpg").
_FILE_NAME_TIMES = (
    re.compile(
        r"(?<!\d)(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})(?:__|[ _T])"
        r"(?P<h>\d{1,2})[-:.](?P<mi>\d{1,2})[-:.](?P<s>\d{1,2})(?!\d)"
    ),
    re.compile(
        r"(?<!\d)(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})[_T-]?"
        r"(?P<h>\d{2})(?P<mi>\d{2})(?P<s>\d{2})(?!\d)"
    ),
)


def time_from_file_name(name: str) -> datetime | None:
    """Return the capture time written in a file name by a renaming tool, if any."""
    for pattern in _FILE_NAME_TIMES:
        for match in pattern.finditer(name):
            try:
                return datetime(*(int(match[part]) for part in ("y", "mo", "d", "h", "mi", "s")))
            except ValueError:  # 2012-13-40: digits, not a date
                continue
    return None


def camera_time_of(exif: ExifData, file_name: str) -> tuple[datetime | None, str]:
    """Return the camera's clock reading (naive, local) and where it was read.

    The EXIF time comes first; a photo without one (stripped by an editing or
    copying tool) falls back to a time a renaming tool wrote in its file name.
    The source is one of traps.models.Photo.TimeSource: "exif", "file_name", or
    "" when there is no time at all.
    """
    if exif.camera_time is not None:
        return exif.camera_time, "exif"
    from_name = time_from_file_name(file_name)
    return (from_name, "file_name") if from_name is not None else (None, "")


def read_exif(image: Image.Image) -> ExifData:
    """Read the capture time and camera identity from a photo's EXIF."""
    exif = image.getexif()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    raw: dict[str, object] = {}
    for tags in (exif, sub):
        for tag, value in tags.items():
            if tag in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.Base.MakerNote):
                continue
            name = ExifTags.TAGS.get(tag, str(tag))
            raw[name] = _json_safe(value)
    time_text = _exif_text(
        sub.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime) or ""
    )
    make = _exif_text(exif.get(ExifTags.Base.Make))
    model = _exif_text(exif.get(ExifTags.Base.Model))
    serial = _exif_text(sub.get(ExifTags.Base.BodySerialNumber))
    if not serial and _CAMERA_SERIAL_AS_MODEL.match(model):
        # Panthera and some other trap cameras write the unit's serial (CAM41146)
        # in the Model tag.
        serial = model
    return ExifData(
        camera_time=parse_exif_datetime(time_text) if time_text else None,
        make=make[:120],
        model=model[:120],
        serial=serial[:80],
        raw=raw,
    )


def plausible_time(value: datetime) -> bool:
    """Tell whether an aware capture time can be a real trap photo's time."""
    return EARLIEST_PLAUSIBLE <= value <= timezone.now() + timedelta(days=1)


def thumbnail_shape(size: tuple[int, int]) -> tuple[int, int]:
    """Return the size of a photo's thumbnail: fit in THUMBNAIL_SIZE, aspect kept."""
    width, height = size
    scale = min(THUMBNAIL_SIZE[0] / width, THUMBNAIL_SIZE[1] / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_thumbnail(image: Image.Image) -> bytes:
    """Return a JPEG thumbnail, decoding the JPEG at reduced scale where it can."""
    orientation = image.getexif().get(ExifTags.Base.Orientation)
    # draft() makes libjpeg decode at 1/2, 1/4 or 1/8 scale: a 12-megapixel photo
    # then costs a fraction of a full decode. Asking for the thumbnail's own
    # shape (400x300 for a 4:3 photo, not 400x400) lets it pick 1/8 instead of 1/4.
    image.draft("RGB", thumbnail_shape(image.size))
    image = image.convert("RGB") if image.mode not in ("RGB", "L") else image
    image.thumbnail(THUMBNAIL_SIZE, Image.Resampling.BILINEAR, reducing_gap=2.0)
    if orientation in (3, 6, 8):
        image.getexif()[ExifTags.Base.Orientation] = orientation
        image = ImageOps.exif_transpose(image)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82, optimize=False)
    return out.getvalue()


@dataclass(frozen=True)
class Decoded:
    exif: ExifData
    thumbnail: bytes
    width: int
    height: int


class DecodeFailed(Exception):
    """The stored bytes passed the upload checks but do not decode.

    code is one of traps.models.Photo.ErrorCode; detail is the decoder's own
    words, kept as they are (they are not translated).
    """

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def decode(source: IO[bytes], max_pixels: int) -> Decoded:
    """Read EXIF and make the thumbnail from a stored photo, open for reading."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
            width, height = image.size
            if width * height > max_pixels:
                raise DecodeFailed("too_many_pixels", f"{width}x{height}")
            exif = read_exif(image)
            thumbnail = make_thumbnail(image)
    except DecodeFailed:
        raise
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise DecodeFailed("undecodable", str(exc)) from exc
    return Decoded(exif=exif, thumbnail=thumbnail, width=width, height=height)


def read_exif_head(head: bytes) -> ExifData | None:
    """Read the camera identity and time from the first part of a photo; None if unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Only the header is parsed: the EXIF block sits in the first 64 KB.
            return read_exif(Image.open(io.BytesIO(head)))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
