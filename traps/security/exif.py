"""Photo bytes without their position: GPS EXIF and XMP removed, pixels untouched.

A camera with a GPS writes the exact place into every photo, so a photo served
to someone without exact-location rights must lose it. JPEG pixel data is not
re-encoded: only the metadata segments before the image data are rewritten
(piexif parses and writes the EXIF block). PNG metadata chunks are dropped.
"""

import struct
from collections.abc import Iterator

import piexif

JPEG_SOI = b"\xff\xd8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_APP1 = 0xE1
_SOS = 0xDA
_EOI = 0xD9
_EXIF_HEADER = b"Exif\x00\x00"
_XMP_HEADERS = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
# PNG chunks that carry metadata rather than pixels or colour.
_PNG_METADATA_CHUNKS = {b"eXIf", b"tEXt", b"zTXt", b"iTXt"}


class NotAnImage(ValueError):
    """The bytes are neither a JPEG nor a PNG that can be walked."""


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    # (start, end, marker) of each marker segment up to the start of the image data;
    # the last one yielded runs to the end of the file.
    if not data.startswith(JPEG_SOI):
        raise NotAnImage("not a JPEG")
    i = 2
    while i < len(data):
        if data[i] != 0xFF:
            raise NotAnImage("JPEG marker expected")
        marker = data[i + 1] if i + 1 < len(data) else _EOI
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (_SOS, _EOI):
            yield i, len(data), marker
            return
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            yield i, i + 2, marker
            i += 2
            continue
        if i + 4 > len(data):
            raise NotAnImage("truncated JPEG segment")
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        yield i, i + 2 + length, marker
        i += 2 + length
    raise NotAnImage("JPEG without image data")


def _exif_without_gps(payload: bytes) -> bytes | None:
    # payload is the APP1 body after the Exif header. None drops the whole block:
    # EXIF that cannot be parsed cannot be shown to be free of a position.
    try:
        exif = piexif.load(payload)
        if not exif["GPS"] and piexif.ImageIFD.GPSTag not in exif["0th"]:
            return payload
        exif["GPS"] = {}
        exif["0th"].pop(piexif.ImageIFD.GPSTag, None)
        dumped = piexif.dump(exif)
    except Exception:  # any parse or write failure means "drop it"
        return None
    return dumped[len(_EXIF_HEADER) :]


def _jpeg_has_gps(payload: bytes) -> bool:
    try:
        exif = piexif.load(payload)
    except Exception:  # unreadable EXIF: assume it may hold a position
        return True
    return bool(exif["GPS"])


def has_location(head: bytes) -> bool:
    """Tell whether a photo's metadata holds a GPS position (EXIF GPS or XMP).

    ``head`` may be the first part of the file only; metadata cut off by its end
    counts as holding a position, since it cannot be shown not to.
    """
    try:
        if head.startswith(PNG_SIGNATURE):
            for kind, start, end in _png_chunks(head):
                if kind == b"eXIf" or (kind == b"iTXt" and b"GPSLatitude" in head[start:end]):
                    return True
                if kind == b"IDAT":
                    return False
            return False
        for start, end, marker in _jpeg_segments(head):
            if marker != _APP1:
                continue
            if end > len(head):
                return True
            body = head[start + 4 : end]
            if body.startswith(_EXIF_HEADER) and _jpeg_has_gps(body[len(_EXIF_HEADER) :]):
                return True
            if body.startswith(_XMP_HEADERS) and b"GPSLatitude" in body:
                return True
    except NotAnImage:
        return True
    return False


def without_location(data: bytes) -> bytes:
    """Return the photo with GPS EXIF and XMP removed and the image data byte for byte."""
    if data.startswith(PNG_SIGNATURE):
        return _png_without_metadata(data)
    out = bytearray(JPEG_SOI)
    for start, end, marker in _jpeg_segments(data):
        if start == 0:
            continue
        if marker == _APP1:
            body = data[start + 4 : end]
            if body.startswith(_XMP_HEADERS):
                continue
            if body.startswith(_EXIF_HEADER):
                kept = _exif_without_gps(body[len(_EXIF_HEADER) :])
                if kept is None:
                    continue
                segment = _EXIF_HEADER + kept
                if len(segment) + 2 > 0xFFFF:
                    continue
                out += struct.pack(">BBH", 0xFF, _APP1, len(segment) + 2) + segment
                continue
        out += data[start:end]
    return bytes(out)


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    i = len(PNG_SIGNATURE)
    while i + 8 <= len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        kind = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > len(data):
            raise NotAnImage("truncated PNG chunk")
        yield kind, i, end
        i = end
        if kind == b"IEND":
            return


def _png_without_metadata(data: bytes) -> bytes:
    out = bytearray(PNG_SIGNATURE)
    for kind, start, end in _png_chunks(data):
        if kind not in _PNG_METADATA_CHUNKS:
            out += data[start:end]
    return bytes(out)
