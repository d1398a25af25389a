"""Test photos that carry a GPS position, as a trap camera with a GPS writes them."""

import io
import struct
import zlib

import piexif
from PIL import Image, PngImagePlugin

LATITUDE = ((43, 1), (7, 1), (2345, 100))  # 43°07'23.45" N
LONGITUDE = ((131, 1), (39, 1), (1530, 100))  # 131°39'15.30" E


def jpeg_with_gps(seed: int = 0, *, xmp: bool = False) -> bytes:
    """Return a JPEG with camera EXIF, a GPS block and, optionally, an XMP position."""
    image = Image.new("RGB", (96, 64), (90, 80, 40))
    image.putpixel((seed % 96, 3), (255, 255, 255))
    exif = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: b"Panthera V4", piexif.ImageIFD.Model: b"CAM41146"},
            "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 22:15:00"},
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: LATITUDE,
                piexif.GPSIFD.GPSLongitudeRef: b"E",
                piexif.GPSIFD.GPSLongitude: LONGITUDE,
            },
        }
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    data = out.getvalue()
    if xmp:
        packet = (
            b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><rdf:Description "
            b'exif:GPSLatitude="43,7.39N" exif:GPSLongitude="131,39.255E"/></x:xmpmeta>'
        )
        segment = b"\xff\xe1" + (len(packet) + 2).to_bytes(2, "big") + packet
        data = data[:2] + segment + data[2:]
    return data


def image_data(jpeg: bytes) -> bytes:
    """Return everything from the start of scan on: the compressed pixels."""
    return jpeg[jpeg.index(b"\xff\xda") :]


# -- The places tools hide a position in, one builder per layout -----------------------
#
# Each returns a whole file as a camera, a drone or an image tool writes it. The
# position is 43°07'23.45" N 131°39'15.30" E, written as EXIF rationals or as the
# text forms below, so that a test can search the served bytes for every form.

LATITUDE_TEXTS = ("43,7.39", "43.123456", "43.1231")
LONGITUDE_TEXTS = ("131,39.255", "131.654321", "131.6542")
_RATIONALS = struct.pack(">6I", 43, 1, 7, 1, 2345, 100)
_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"


def _xmp(description: str) -> str:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f"<rdf:Description {description}/></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    )


EXIF_XMP = _xmp(
    'xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    'exif:GPSLatitude="43,7.39N" exif:GPSLongitude="131,39.255E"'
)
DJI_XMP = _xmp(
    'xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" '
    'drone-dji:GpsLatitude="43.123456" drone-dji:GpsLongitude="131.654321" '
    'drone-dji:AbsoluteAltitude="+312.50"'
)


def plain_image(seed: int = 0) -> Image.Image:
    image = Image.new("RGB", (96, 64), (90, 80, 40))
    image.putpixel((seed % 96, 5), (255, 255, 255))
    image.putpixel((7, 9), (10, 200, 30))
    return image


def jpeg_with_segments(*segments: bytes, seed: int = 0) -> bytes:
    # A JPEG from Pillow (SOI, JFIF APP0, tables, scan) with APP segments after APP0.
    out = io.BytesIO()
    plain_image(seed).save(out, "JPEG", quality=85)
    data = out.getvalue()
    after_app0 = 2 + 2 + int.from_bytes(data[4:6], "big")
    return data[:after_app0] + b"".join(segments) + data[after_app0:]


def app_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def tiff(ifds: dict[str, list[tuple[int, int, int, bytes | str]]], chain: dict[str, str]) -> bytes:
    """Return a big-endian TIFF structure; a str value points to the IFD of that name.

    The first IFD is IFD0; chain links an IFD to the next one (IFD0 to IFD1).
    """
    names = list(ifds)
    offsets, position = {}, 8
    for name in names:
        offsets[name] = position
        position += 2 + 12 * len(ifds[name]) + 4
    out = bytearray(b"MM\x00*" + struct.pack(">I", offsets[names[0]]))
    values = bytearray()
    for name in names:
        out += struct.pack(">H", len(ifds[name]))
        for tag, kind, count, payload in sorted(ifds[name], key=lambda e: e[0]):
            if isinstance(payload, str):
                value = struct.pack(">I", offsets[payload])
            elif len(payload) <= 4:
                value = payload.ljust(4, b"\x00")
            else:
                value = struct.pack(">I", position + len(values))
                values += payload + b"\x00" * (len(payload) % 2)
            out += struct.pack(">HHI", tag, kind, count) + value
        out += struct.pack(">I", offsets[chain[name]] if name in chain else 0)
    return bytes(out + values)


_ASCII, _LONG, _RATIONAL = 2, 4, 5
_CAMERA = [(0x010F, _ASCII, 12, b"Panthera V4\x00"), (0x0110, _ASCII, 9, b"CAM41146\x00")]
_TIME = (0x9003, _ASCII, 20, b"2024:05:01 22:15:00\x00")
GPS_IFD = [
    (1, _ASCII, 2, b"N\x00"),
    (2, _RATIONAL, 3, _RATIONALS),
    (3, _ASCII, 2, b"E\x00"),
    (4, _RATIONAL, 3, struct.pack(">6I", 131, 1, 39, 1, 1530, 100)),
]


def tiff_gps_in_ifd0() -> bytes:
    return tiff(
        {
            "ifd0": [*_CAMERA, (0x8769, _LONG, 1, "exif"), (0x8825, _LONG, 1, "gps")],
            "exif": [_TIME],
            "gps": GPS_IFD,
        },
        {},
    )


def jpeg_xmp_utf16() -> bytes:
    """XMP written in UTF-16 (with its byte order mark), as some Windows tools do."""
    return jpeg_with_segments(app_segment(0xE1, _XMP_HEADER + EXIF_XMP.encode("utf-16")), seed=1)


def jpeg_dji_xmp() -> bytes:
    """A drone's XMP: DJI writes the position in its own drone-dji namespace."""
    return jpeg_with_segments(app_segment(0xE1, _XMP_HEADER + DJI_XMP.encode()), seed=2)


def jpeg_gps_pointer_in_exif_ifd() -> bytes:
    """The GPS directory linked from the Exif sub-IFD instead of IFD0."""
    block = tiff(
        {
            "ifd0": [*_CAMERA, (0x8769, _LONG, 1, "exif")],
            "exif": [_TIME, (0x8825, _LONG, 1, "gps")],
            "gps": GPS_IFD,
        },
        {},
    )
    return jpeg_with_segments(app_segment(0xE1, b"Exif\x00\x00" + block), seed=3)


def jpeg_gps_pointer_in_ifd1() -> bytes:
    """The GPS directory linked from IFD1 (the thumbnail's directory)."""
    block = tiff(
        {
            "ifd0": [*_CAMERA, (0x8769, _LONG, 1, "exif")],
            "exif": [_TIME],
            "ifd1": [(0x0103, 3, 1, b"\x00\x06"), (0x8825, _LONG, 1, "gps")],
            "gps": GPS_IFD,
        },
        {"ifd0": "ifd1"},
    )
    return jpeg_with_segments(app_segment(0xE1, b"Exif\x00\x00" + block), seed=4)


def jpeg_exif_header_variant() -> bytes:
    """An EXIF APP1 headed "Exif\\0\\xff": readers that check four bytes still find the GPS."""
    return jpeg_with_segments(app_segment(0xE1, b"Exif\x00\xff" + tiff_gps_in_ifd0()), seed=5)


def _png(info: PngImagePlugin.PngInfo | None = None, seed: int = 0) -> bytes:
    out = io.BytesIO()
    plain_image(seed).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png_xmp_compressed_itxt() -> bytes:
    """XMP in a compressed iTXt chunk (the PNG way of storing XMP, zipped)."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", EXIF_XMP, zip=True)
    return _png(info, seed=6)


def png_xmp_in_text() -> bytes:
    """XMP in a plain tEXt chunk under the XMP keyword (its UTF-8 bytes read as Latin-1)."""
    data = _png(seed=7)
    text = png_chunk(b"tEXt", b"XML:com.adobe.xmp\x00" + EXIF_XMP.encode())
    idat = data.index(b"IDAT") - 4
    return data[:idat] + text + data[idat:]


def png_xmp_itxt_after_idat() -> bytes:
    """XMP in an iTXt chunk after the image data, where a reader stopping at IDAT misses it."""
    data = _png(seed=8)
    itxt = png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + DJI_XMP.encode())
    iend = data.rindex(b"IEND") - 4
    return data[:iend] + itxt + data[iend:]


def png_raw_profile_exif() -> bytes:
    """ImageMagick's zTXt "Raw profile type exif": the EXIF block in hexadecimal."""
    payload = b"Exif\x00\x00" + tiff_gps_in_ifd0()
    hexed = payload.hex()
    lines = "\n".join(hexed[i : i + 72] for i in range(0, len(hexed), 72))
    info = PngImagePlugin.PngInfo()
    info.add_text("Raw profile type exif", f"\nexif\n{len(payload):8d}\n{lines}\n", zip=True)
    return _png(info, seed=9)


LAYOUTS = {
    "jpeg_xmp_utf16": jpeg_xmp_utf16,
    "jpeg_dji_xmp": jpeg_dji_xmp,
    "jpeg_gps_pointer_in_exif_ifd": jpeg_gps_pointer_in_exif_ifd,
    "jpeg_gps_pointer_in_ifd1": jpeg_gps_pointer_in_ifd1,
    "jpeg_exif_header_variant": jpeg_exif_header_variant,
    "png_xmp_compressed_itxt": png_xmp_compressed_itxt,
    "png_xmp_in_text": png_xmp_in_text,
    "png_xmp_itxt_after_idat": png_xmp_itxt_after_idat,
    "png_raw_profile_exif": png_raw_profile_exif,
}
