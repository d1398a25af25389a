"""Photo metadata and location privacy: whether a photo holds a position, and a copy without one.

A camera with a GPS writes the exact place into every photo, and tools add
places of their own: XMP in UTF-8 or UTF-16, a drone maker's namespace, a GPS
directory hung off any TIFF directory, PNG text chunks compressed or not,
before or after the pixels, ImageMagick's hex "raw profiles". A list of known
places always misses the next one, so the copy for someone without exact
rights is rebuilt from an allow-list instead: what the image needs to decode
and look right, and a fresh EXIF block with a few camera settings written from
parsed values. The compressed image data is kept byte for byte. A file that
cannot be walked is re-encoded from its pixels; nothing is passed through
unread.

Telling whether a file holds a position (for the access log) is the other
direction: every place that can carry text or a TIFF directory is read, and
anything that cannot be read counts as holding one.
"""

import io
import re
import struct
import warnings
import zlib
from dataclasses import dataclass

import piexif
from PIL import Image, ImageOps

JPEG_SOI = b"\xff\xd8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SOS, _EOI, _SOI = 0xDA, 0xD9, 0xD8
_APP0, _APP1, _APP2, _APP14, _COM = 0xE0, 0xE1, 0xE2, 0xEE, 0xFE
# Markers of the coded image itself, copied byte for byte: SOFn (but not DHT C4,
# JPG C8, DAC CC, listed on their own), DHT, DAC, SOS, DQT, DNL, DRI, DHP, EXP.
_FRAME_MARKERS = frozenset(
    {m for m in range(0xC0, 0xD0) if m != 0xC8} | {0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF}
)
_RST_MARKERS = frozenset(range(0xD0, 0xD8))
# The first marker after entropy-coded data: 0xFF not followed by a stuffed
# zero, a restart marker or another fill byte.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_EXIF_HEADER = b"Exif\x00\x00"
_ICC_HEADER = b"ICC_PROFILE\x00"
_ICC_CHUNK = 65519  # APP2 payload limit less its 14-byte header

# PNG chunks copied byte for byte: the critical ones and those that fix how
# pixels look (transparency, gamma, primaries, colour profile, bit depth,
# pixel aspect). Text, eXIf, tIME and anything unknown are left out.
_PNG_CRITICAL = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_PNG_KEPT = _PNG_CRITICAL | {b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs"}
_PNG_TEXT = frozenset({b"tEXt", b"zTXt", b"iTXt"})

# The EXIF tags a copy without location keeps: camera identity, orientation,
# time and exposure. Never GPS, maker notes, comments, descriptions, owner
# names or thumbnails.
_ALLOWED_TAGS = {
    "0th": frozenset(
        {
            piexif.ImageIFD.Make,
            piexif.ImageIFD.Model,
            piexif.ImageIFD.Orientation,
            piexif.ImageIFD.XResolution,
            piexif.ImageIFD.YResolution,
            piexif.ImageIFD.ResolutionUnit,
            piexif.ImageIFD.DateTime,
        }
    ),
    "Exif": frozenset(
        {
            piexif.ExifIFD.DateTimeOriginal,
            piexif.ExifIFD.DateTimeDigitized,
            piexif.ExifIFD.OffsetTime,
            piexif.ExifIFD.OffsetTimeOriginal,
            piexif.ExifIFD.OffsetTimeDigitized,
            piexif.ExifIFD.SubSecTimeOriginal,
            piexif.ExifIFD.ExposureTime,
            piexif.ExifIFD.FNumber,
            piexif.ExifIFD.ExposureProgram,
            piexif.ExifIFD.ISOSpeedRatings,
            piexif.ExifIFD.ExposureBiasValue,
            piexif.ExifIFD.MeteringMode,
            piexif.ExifIFD.LightSource,
            piexif.ExifIFD.Flash,
            piexif.ExifIFD.FocalLength,
            piexif.ExifIFD.ExposureMode,
            piexif.ExifIFD.WhiteBalance,
            piexif.ExifIFD.ColorSpace,
            piexif.ExifIFD.PixelXDimension,
            piexif.ExifIFD.PixelYDimension,
        }
    ),
}
_MAX_EXIF_TEXT = 64
_PRINTABLE_ASCII = re.compile(rb"^[\x20-\x7e]*$")

# TIFF tags that hold a position (the GPS directory, GeoTIFF) and those that
# point to further directories that may hold one.
_LOCATION_TAGS = frozenset({0x8825, 0x8482, 0x830E, 0x85D8, 0x87AF})
_SUB_IFD_TAGS = frozenset({0x8769, 0xA005, 0x014A})
_TIFF_HEADER = re.compile(rb"II\*\x00|MM\x00\*")
# Words that name a position in XMP, PNG text and comments, whatever the
# namespace (exif:GPSLatitude, drone-dji:GpsLatitude, Iptc4xmpExt:...).
_LOCATION_WORDS = (b"gps", b"latitude", b"longitude", b"geotag", b"geolocation")
_LOCATION_PATTERNS = tuple(
    re.compile(re.escape(sep.join(bytes([c]) for c in word)), re.IGNORECASE)
    for word in _LOCATION_WORDS
    for sep in (b"", b"\x00", b"\x00\x00\x00")  # UTF-8, UTF-16, UTF-32 either way round
)
_MAX_INFLATED = 16 * 1024 * 1024


class NotAnImage(ValueError):
    """The bytes cannot be walked as a JPEG or PNG, nor decoded as an image."""


@dataclass(frozen=True)
class Rebuilt:
    data: bytes
    media_type: str


# -- JPEG ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    marker: int
    start: int
    end: int  # after a SOS, the end of its entropy-coded data

    def body(self, data: bytes) -> bytes:
        return data[self.start + 4 : self.end] if self.end - self.start > 2 else b""


def _jpeg_segments(data: bytes) -> tuple[list[_Segment], int]:
    """Return the segments from the first marker after SOI to EOI, and where EOI ends."""
    if not data.startswith(JPEG_SOI):
        raise NotAnImage("not a JPEG")
    segments: list[_Segment] = []
    i = 2
    while True:
        if i + 2 > len(data):
            raise NotAnImage("JPEG without an end marker")
        if data[i] != 0xFF:
            raise NotAnImage("JPEG marker expected")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == _EOI:
            segments.append(_Segment(marker, i, i + 2))
            return segments, i + 2
        if marker in _RST_MARKERS:
            segments.append(_Segment(marker, i, i + 2))
            i += 2
            continue
        if marker in (_SOI, 0x00, 0x01):
            raise NotAnImage("unexpected JPEG marker")
        if i + 4 > len(data):
            raise NotAnImage("truncated JPEG segment")
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        end = i + 2 + length
        if length < 2 or end > len(data):
            raise NotAnImage("truncated JPEG segment")
        if marker == _SOS:
            found = _NEXT_MARKER.search(data, end)
            if found is None:
                raise NotAnImage("JPEG scan without an end")
            end = found.start()
        segments.append(_Segment(marker, i, end))
        i = end


def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) + 2 > 0xFFFF:
        raise ValueError("segment too long")
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _jpeg_rebuilt(data: bytes) -> bytes:
    segments, _ = _jpeg_segments(data)
    jfif = exif = adobe = b""
    icc_chunks: list[bytes] = []
    # Views, not copies: the coded image is most of the file, copied once at the end.
    view = memoryview(data)
    frame: list[memoryview] = []
    for seg in segments:
        if seg.marker in _FRAME_MARKERS or seg.marker in _RST_MARKERS or seg.marker == _EOI:
            frame.append(view[seg.start : seg.end])
            continue
        if not (0xE0 <= seg.marker <= 0xEF or seg.marker == _COM):
            raise NotAnImage(f"unknown JPEG marker {seg.marker:#x}")
        body = seg.body(data)
        if seg.marker == _APP0 and not jfif and body.startswith(b"JFIF\x00") and len(body) >= 12:
            jfif = _jfif_rebuilt(body)
        elif seg.marker == _APP1 and not exif and body.startswith(_EXIF_HEADER):
            exif = _exif_rebuilt(body[len(_EXIF_HEADER) :])
        elif seg.marker == _APP2 and body.startswith(_ICC_HEADER):
            icc_chunks.append(body)
        elif seg.marker == _APP14 and not adobe and body.startswith(b"Adobe") and len(body) >= 12:
            # The colour transform flag decides how a decoder reads the channels.
            adobe = _segment(_APP14, body[:12])
    head = [JPEG_SOI, jfif, exif, _icc_segments(_icc_profile(icc_chunks)), adobe]
    return b"".join([*head, *frame])


def _jfif_rebuilt(body: bytes) -> bytes:
    # Version, density units and densities; no thumbnail.
    version, units, x_density, y_density = struct.unpack(">HBHH", body[5:12])
    if units > 2 or not x_density or not y_density:
        return b""
    payload = b"JFIF\x00" + struct.pack(">HBHHBB", version, units, x_density, y_density, 0, 0)
    return _segment(_APP0, payload)


def _exif_rebuilt(tiff: bytes) -> bytes:
    """Return a fresh APP1 EXIF segment holding only allow-listed tags, or b""."""
    try:
        parsed = piexif.load(tiff)
    except Exception:  # EXIF that piexif cannot read gives nothing to keep
        return b""
    kept: dict[str, dict[int, object]] = {"0th": {}, "Exif": {}}
    for ifd, allowed in _ALLOWED_TAGS.items():
        for tag, value in (parsed.get(ifd) or {}).items():
            if tag in allowed and (clean := _allowed_value(ifd, tag, value)) is not None:
                kept[ifd][tag] = clean
    if not kept["0th"] and not kept["Exif"]:
        return b""
    try:
        return _segment(_APP1, piexif.dump(kept))
    except Exception:  # a value piexif will not write: leave EXIF out
        return b""


def _allowed_value(ifd: str, tag: int, value: object) -> object | None:
    kind = piexif.TAGS[ifd][tag]["type"]
    if kind == piexif.TYPES.Ascii:
        if isinstance(value, str):
            value = value.encode("ascii", "replace")
        if not isinstance(value, bytes):
            return None
        value = value.rstrip(b"\x00 ")
        if len(value) > _MAX_EXIF_TEXT or not _PRINTABLE_ASCII.match(value):
            return None
        if any(pattern.search(value) for pattern in _LOCATION_PATTERNS):
            return None
        return value
    if kind in (piexif.TYPES.Rational, piexif.TYPES.SRational):
        if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
            return value
        return None
    if kind in (piexif.TYPES.Short, piexif.TYPES.Long, piexif.TYPES.SShort, piexif.TYPES.SLong):
        if isinstance(value, int):
            return value
        if (
            isinstance(value, tuple)
            and 0 < len(value) <= 4
            and all(isinstance(v, int) for v in value)
        ):
            return value
    return None


def _icc_profile(chunks: list[bytes]) -> bytes:
    """Return the ICC profile of a JPEG's APP2 chunks, b"" if they do not make one."""
    if not chunks:
        return b""
    parts: dict[int, bytes] = {}
    counts = set()
    for chunk in chunks:
        if len(chunk) < 14:
            return b""
        seq, count = chunk[12], chunk[13]
        if seq in parts or not 1 <= seq <= count:
            return b""
        parts[seq] = chunk[14:]
        counts.add(count)
    if len(counts) != 1 or len(parts) != counts.pop():
        return b""
    profile = b"".join(parts[seq] for seq in sorted(parts))
    return profile if _is_icc_profile(profile) else b""


def _is_icc_profile(profile: bytes) -> bool:
    # The header states the profile's own size and carries the 'acsp' signature;
    # a profile that speaks of places is not kept either.
    return (
        len(profile) >= 128
        and struct.unpack(">I", profile[:4])[0] == len(profile)
        and profile[36:40] == b"acsp"
        and not _names_a_place(profile)
    )


def _icc_segments(profile: bytes) -> bytes:
    if not profile:
        return b""
    pieces = [profile[i : i + _ICC_CHUNK] for i in range(0, len(profile), _ICC_CHUNK)]
    if len(pieces) > 255:
        return b""
    return b"".join(
        _segment(_APP2, _ICC_HEADER + bytes([n, len(pieces)]) + piece)
        for n, piece in enumerate(pieces, start=1)
    )


def _jpeg_has_location(data: bytes) -> bool:
    segments, end = _jpeg_segments(data)
    for seg in segments:
        if seg.marker in _FRAME_MARKERS or seg.marker in _RST_MARKERS or seg.marker == _EOI:
            continue
        body = seg.body(data)
        if body.startswith(b"Exif"):
            if _exif_has_location(body):
                return True
        elif body.startswith((b"JFIF\x00", _ICC_HEADER, b"Adobe")):
            if _holds_location(body, text=False):
                return True
        elif _holds_location(body):
            return True
    # Bytes after the end of the image: a second image (MPF) or an appended file.
    tail = data[end:].strip(b"\x00\xff")
    return bool(tail) and _holds_location(tail)


# -- PNG ----------------------------------------------------------------------------


def _png_chunks(data: bytes, *, check_crc: bool) -> list[tuple[bytes, int, int]]:
    """Return (type, start, end) of each chunk up to IEND."""
    if not data.startswith(PNG_SIGNATURE):
        raise NotAnImage("not a PNG")
    chunks = []
    view = memoryview(data)
    i = len(PNG_SIGNATURE)
    while True:
        if i + 12 > len(data):
            raise NotAnImage("PNG without IEND")
        (length,) = struct.unpack(">I", data[i : i + 4])
        kind = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > len(data) or not kind.isalpha():
            raise NotAnImage("broken PNG chunk")
        if (
            check_crc
            and zlib.crc32(view[i + 4 : end - 4]) != struct.unpack(">I", data[end - 4 : end])[0]
        ):
            raise NotAnImage("PNG chunk with a wrong checksum")
        chunks.append((kind, i, end))
        i = end
        if kind == b"IEND":
            return chunks


def _png_rebuilt(data: bytes) -> bytes:
    chunks = _png_chunks(data, check_crc=True)
    if chunks[0][0] != b"IHDR":
        raise NotAnImage("PNG without IHDR first")
    view = memoryview(data)
    out: list[bytes | memoryview] = [PNG_SIGNATURE]
    for kind, start, end in chunks:
        if kind not in _PNG_KEPT:
            if kind[0:1].isupper():  # a critical chunk this code does not know
                raise NotAnImage(f"unknown critical PNG chunk {kind!r}")
            continue
        if kind == b"iCCP" and not _png_icc_ok(data[start + 8 : end - 4]):
            continue
        out.append(view[start:end])
    return b"".join(out)


def _png_icc_ok(body: bytes) -> bool:
    _name, sep, rest = body.partition(b"\x00")
    if not sep or not rest or rest[0] != 0:
        return False
    try:
        return _is_icc_profile(_inflate(rest[1:]))
    except NotAnImage:
        return False


def _png_has_location(data: bytes) -> bool:
    chunks = _png_chunks(data, check_crc=False)
    for kind, start, end in chunks:
        if kind in (b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB"):
            continue
        body = data[start + 8 : end - 4]
        if kind == b"eXIf":
            if _exif_has_location(body):
                return True
        elif kind in _PNG_TEXT:
            keyword, text = _png_text(kind, body)
            if _holds_location(keyword) or _text_holds_location(text):
                return True
        elif kind == b"iCCP":
            continue
        elif _holds_location(body):
            return True
    tail = data[chunks[-1][2] :].strip(b"\x00")
    return bool(tail) and _holds_location(tail)


def _png_text(kind: bytes, body: bytes) -> tuple[bytes, bytes]:
    """Return the keyword and the (inflated) text of a PNG text chunk."""
    keyword, sep, rest = body.partition(b"\x00")
    if not sep:
        raise NotAnImage("PNG text chunk without a keyword")
    if kind == b"tEXt":
        return keyword, rest
    if kind == b"zTXt":
        return keyword, _inflate(rest[1:])
    # iTXt: compression flag, method, language tag, translated keyword, text.
    if len(rest) < 2:
        raise NotAnImage("short iTXt chunk")
    compressed, rest = rest[0], rest[2:]
    _language, _, rest = rest.partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    return keyword, _inflate(text) if compressed else text


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, _MAX_INFLATED)
    except zlib.error as exc:
        raise NotAnImage("compressed chunk that does not inflate") from exc
    if inflater.unconsumed_tail:
        raise NotAnImage("compressed chunk too large")
    return out


# -- What may hold a position ----------------------------------------------------------


def _exif_has_location(body: bytes) -> bool:
    """Tell whether an EXIF block holds a position; one that cannot be walked may.

    The block is a TIFF structure, after "Exif" and any two bytes (readers do
    not all insist on the two zero bytes) or on its own (PNG's eXIf).
    """
    start = _TIFF_HEADER.search(body, 0, 16)
    if start is None or _tiff_has_location(body[start.start() :]):
        return True
    # A thumbnail or second image inside may carry its own EXIF.
    return _holds_location(body[start.start() + 8 :], text=False)


def _names_a_place(blob: bytes) -> bool:
    return any(pattern.search(blob) for pattern in _LOCATION_PATTERNS)


def _holds_location(blob: bytes, *, text: bool = True) -> bool:
    """Tell whether a block of metadata may hold a position.

    A TIFF directory anywhere inside is walked; text (XMP, comments) is searched
    for the words that name a position, in UTF-8, UTF-16 or UTF-32.
    """
    if text and _text_holds_location(blob):
        return True
    for header in _TIFF_HEADER.finditer(blob):
        try:
            if _tiff_has_location(blob[header.start() :]):
                return True
        except NotAnImage:
            continue  # four bytes that only look like a TIFF header
    return False


def _text_holds_location(text: bytes) -> bool:
    if _names_a_place(text):
        return True
    # ImageMagick's "Raw profile type exif" (and xmp, iptc): a name, a length,
    # then the profile in hexadecimal, where no word can be searched for.
    hex_digits = re.sub(rb"\s+", b"", text.split(b"\n", 3)[-1]) if b"\n" in text else b""
    if len(hex_digits) >= 16 and re.fullmatch(rb"[0-9a-fA-F]+", hex_digits):
        try:
            raw = bytes.fromhex(hex_digits[: len(hex_digits) // 2 * 2].decode())
        except ValueError:
            return True
        return _exif_has_location(raw) if raw.startswith(b"Exif") else _holds_location(raw)
    return False


def _tiff_has_location(tiff: bytes) -> bool:
    """Walk every directory of a TIFF structure; True if any holds a position.

    Raises NotAnImage when the structure cannot be walked.
    """
    if tiff[:4] == b"II*\x00":
        order = "<"
    elif tiff[:4] == b"MM\x00*":
        order = ">"
    else:
        raise NotAnImage("no TIFF header")
    (first,) = struct.unpack(order + "I", tiff[4:8])
    # (offset, whether a next-directory link follows): IFD0, IFD1... are chained;
    # sub-directories are not, and writers often leave their link out.
    pending, seen = [(first, True)], set()
    while pending:
        offset, chained = pending.pop()
        if offset == 0 or offset in seen:
            continue
        seen.add(offset)
        if len(seen) > 64 or offset + 2 > len(tiff):
            raise NotAnImage("TIFF directory out of bounds")
        (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
        end = offset + 2 + 12 * count
        if end > len(tiff):
            raise NotAnImage("TIFF directory out of bounds")
        for n in range(count):
            entry = tiff[offset + 2 + 12 * n : offset + 14 + 12 * n]
            tag, kind, values = struct.unpack(order + "HHI", entry[:8])
            if tag in _LOCATION_TAGS and values:
                return True
            if tag in _SUB_IFD_TAGS and values:
                pending.extend(
                    (sub, False) for sub in _tiff_offsets(tiff, order, kind, values, entry[8:])
                )
        if chained and end + 4 <= len(tiff):
            pending.append((struct.unpack(order + "I", tiff[end : end + 4])[0], True))
    return False


def _tiff_offsets(tiff: bytes, order: str, kind: int, count: int, value: bytes) -> list[int]:
    if kind == 3:  # SHORT
        size, code = 2, "H"
    elif kind in (4, 13):  # LONG, IFD
        size, code = 4, "I"
    else:
        raise NotAnImage("TIFF directory pointer of an odd type")
    if count > 64:
        raise NotAnImage("too many TIFF sub-directories")
    if size * count <= 4:
        raw = value[: size * count]
    else:
        (at,) = struct.unpack(order + "I", value)
        raw = tiff[at : at + size * count]
        if len(raw) != size * count:
            raise NotAnImage("TIFF pointer out of bounds")
    return list(struct.unpack(order + code * count, raw))


# -- Entry points ---------------------------------------------------------------------


def has_location(data: bytes) -> bool:
    """Tell whether a photo may hold a position (GPS, GeoTIFF, or a place in XMP or text).

    ``data`` is the whole file. A file that cannot be walked, or of a format
    other than JPEG and PNG, counts as holding one: it cannot be shown not to.
    """
    try:
        if data.startswith(PNG_SIGNATURE):
            return _png_has_location(data)
        if data.startswith(JPEG_SOI):
            return _jpeg_has_location(data)
    except (NotAnImage, struct.error):
        return True
    return True


def without_location(data: bytes) -> Rebuilt:
    """Return the photo with its metadata rebuilt from the allow-list.

    JPEG and PNG keep their compressed image data byte for byte; a file that
    cannot be walked is re-encoded from its pixels (JPEG stays JPEG, anything
    else becomes PNG). Raises NotAnImage when not even the pixels decode.
    """
    try:
        if data.startswith(JPEG_SOI):
            return Rebuilt(_jpeg_rebuilt(data), "image/jpeg")
        if data.startswith(PNG_SIGNATURE):
            return Rebuilt(_png_rebuilt(data), "image/png")
    except (NotAnImage, struct.error, ValueError):
        pass
    return _reencoded(data)


def _reencoded(data: bytes) -> Rebuilt:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                as_jpeg = image.format == "JPEG"
                # The orientation goes with the EXIF: turn the pixels instead.
                pixels = ImageOps.exif_transpose(image)
                pixels.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning) as exc:
        raise NotAnImage("the pixels do not decode") from exc
    if pixels.mode == "P":
        pixels = pixels.convert("RGBA")
    # A bare copy: Pillow writes what .info holds (ICC, XMP, EXIF) on save.
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    if as_jpeg and clean.mode in ("L", "RGB", "CMYK"):
        clean.save(out, "JPEG", quality=92)
        return Rebuilt(out.getvalue(), "image/jpeg")
    clean.save(out, "PNG")
    return Rebuilt(out.getvalue(), "image/png")
