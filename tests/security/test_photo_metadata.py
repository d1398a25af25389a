"""Photo originals: rebuilt from an allow-list for those without exact rights, logged when located.

Each layout below is a place where cameras, drones and image tools write a
position. Someone without exact-location rights (a manager) must get none of
it in any form, with the image unchanged; someone with them gets the original
untouched, and that is put on record.
"""

import io
import re
import struct

import piexif
import pytest
from PIL import Image, PngImagePlugin

from accounts import exif
from accounts.models import LocationAccessLog
from tests.factories import DeploymentFactory, jpeg_bytes
from tests.security.images import (
    LATITUDE_TEXTS,
    LAYOUTS,
    LONGITUDE_TEXTS,
    app_segment,
    image_data,
    jpeg_with_gps,
    jpeg_with_segments,
    plain_image,
    png_chunk,
)
from tests.traps.ingest import ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(park):
    return DeploymentFactory(station__park=park)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _forms(text: str) -> list[bytes]:
    # A word as UTF-8, UTF-16 and UTF-32 in either byte order, and in hexadecimal.
    forms = [text.encode()]
    for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        forms.append(text.encode(encoding))
    forms.append(text.encode().hex().encode())
    return forms


def assert_no_position(served: bytes) -> None:
    lowered = served.lower()
    for word in ("gps", "latitude", "longitude", "drone-dji", "xmpmeta", "ns.adobe.com/xap"):
        for form in _forms(word):
            assert form.lower() not in lowered, (word, form)
    for text in LATITUDE_TEXTS + LONGITUDE_TEXTS:
        for form in _forms(text):
            assert form not in served, (text, form)
    for order in "<>":  # the seconds of the EXIF rationals, in either byte order
        assert struct.pack(order + "II", 2345, 100) not in served
        assert struct.pack(order + "II", 1530, 100) not in served
    image = Image.open(io.BytesIO(served))
    assert not {"xmp", "XML:com.adobe.xmp", "Raw profile type exif"} & set(image.info)
    tags = image.getexif()
    assert 0x8825 not in tags
    assert not tags.get_ifd(0x8825)
    assert 0x8825 not in tags.get_ifd(0x8769)
    if image.format == "JPEG" and "exif" in image.info:
        loaded = piexif.load(served)
        assert loaded["GPS"] == {}
        for ifd in ("0th", "Exif", "1st"):
            assert piexif.ImageIFD.GPSTag not in loaded[ifd]
    if image.format == "PNG":
        assert "exif" not in image.info
        for kind in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
            assert kind not in served


def assert_same_image(served: bytes, original: bytes) -> None:
    before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(served))
    assert (after.format, after.size, after.mode) == (before.format, before.size, before.mode)
    assert after.tobytes() == before.tobytes()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_manager_gets_no_position_in_any_form(client, manager, deployment, layout):
    original = LAYOUTS[layout]()
    photo = ingest(deployment, None, data=original)
    client.force_login(manager)
    response = client.get(f"/photos/{photo.pk}/file")
    assert response.status_code == 200
    served = _body(response)
    assert served != original
    assert_no_position(served)
    assert_same_image(served, original)
    if original.startswith(b"\xff\xd8"):
        assert image_data(served) == image_data(original)  # entropy-coded data as stored
    # Nothing exact left the registry.
    assert not LocationAccessLog.objects.exists()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_park_scientist_gets_the_original_and_it_is_logged(client, scientist, deployment, layout):
    original = LAYOUTS[layout]()
    photo = ingest(deployment, None, data=original)
    client.force_login(scientist)
    response = client.get(f"/photos/{photo.pk}/file")
    assert _body(response) == original
    log = LocationAccessLog.objects.get()
    assert (log.username, log.park_code, log.what, log.detail) == (
        "bob",
        "alpha",
        "photo",
        f"photo {photo.pk}",
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_counts_as_holding_a_position(layout):
    assert exif.has_location(LAYOUTS[layout]())


def test_manager_keeps_only_the_allowed_exif_tags(client, manager, deployment):
    exif_block = piexif.dump(
        {
            "0th": {
                piexif.ImageIFD.Make: b"Reconyx",
                piexif.ImageIFD.Model: b"HyperFire 2",
                piexif.ImageIFD.Orientation: 6,
                piexif.ImageIFD.ImageDescription: b"Kedrovaya Pad, sector 5",
                piexif.ImageIFD.Artist: b"Ranger Ivanov",
                piexif.ImageIFD.Software: b"trail-cam 1.2",
            },
            "Exif": {
                piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 22:15:00",
                piexif.ExifIFD.ExposureTime: (1, 250),
                piexif.ExifIFD.FNumber: (28, 10),
                piexif.ExifIFD.ISOSpeedRatings: 400,
                piexif.ExifIFD.Flash: 1,
                piexif.ExifIFD.MakerNote: b"RECONYX\x00station 17 43.123456",
                piexif.ExifIFD.UserComment: b"ASCII\x00\x00\x00north ridge",
                piexif.ExifIFD.BodySerialNumber: b"H500-0042",
            },
            "GPS": {piexif.GPSIFD.GPSLatitude: ((43, 1), (7, 1), (2345, 100))},
        }
    )
    original = jpeg_with_segments(
        app_segment(0xE1, exif_block),
        app_segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0clocation 5"),
        app_segment(0xFE, b"shot at station 17"),
    )
    photo = ingest(deployment, None, data=original)
    client.force_login(manager)
    served = _body(client.get(f"/photos/{photo.pk}/file"))
    tags = piexif.load(served)
    assert tags["0th"] == {
        piexif.ImageIFD.Make: b"Reconyx",
        piexif.ImageIFD.Model: b"HyperFire 2",
        piexif.ImageIFD.Orientation: 6,
        piexif.ImageIFD.ExifTag: tags["0th"][piexif.ImageIFD.ExifTag],
    }
    assert tags["Exif"] == {
        piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 22:15:00",
        piexif.ExifIFD.ExposureTime: (1, 250),
        piexif.ExifIFD.FNumber: (28, 10),
        piexif.ExifIFD.ISOSpeedRatings: 400,
        piexif.ExifIFD.Flash: 1,
    }
    assert tags["GPS"] == {} and tags["1st"] == {} and tags["thumbnail"] is None
    for gone in (b"Kedrovaya", b"Ivanov", b"trail-cam", b"station 17", b"north ridge", b"H500"):
        assert gone not in served
    assert b"Photoshop" not in served
    assert image_data(served) == image_data(original)


def test_icc_profile_and_jfif_density_are_kept(client, manager, deployment):
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    plain_image().save(out, "JPEG", quality=85, icc_profile=profile, dpi=(300, 300))
    original = out.getvalue()
    photo = ingest(deployment, None, data=original)
    client.force_login(manager)
    served = Image.open(io.BytesIO(_body(client.get(f"/photos/{photo.pk}/file"))))
    assert served.info["icc_profile"] == profile
    assert served.info["dpi"] == (300, 300)


def test_png_keeps_transparency_and_colour_chunks_and_drops_the_rest():
    image = Image.new("P", (20, 10), 1)
    image.putpalette([0, 0, 0, 200, 10, 10, 10, 200, 10])
    image.putpixel((3, 3), 2)
    info = PngImagePlugin.PngInfo()
    info.add(b"gAMA", struct.pack(">I", 45455))
    info.add(b"tIME", b"\x07\xe8\x05\x01\x16\x0f\x00")
    info.add(b"prVt", b"43.123456 131.654321")  # an unknown, private chunk
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, transparency=0, dpi=(72, 72))
    original = out.getvalue()
    served = exif.without_location(original).data
    kinds = re.findall(rb"(?<=....)(IHDR|PLTE|tRNS|gAMA|pHYs|IDAT|IEND|tIME|prVt)", served)
    assert {k.decode() for k in kinds} == {"IHDR", "PLTE", "tRNS", "gAMA", "pHYs", "IDAT", "IEND"}
    assert_same_image(served, original)
    assert Image.open(io.BytesIO(served)).info["transparency"] == 0


def test_a_jpeg_that_cannot_be_walked_is_re_encoded_not_passed_through(client, manager, deployment):
    original = jpeg_with_gps(seed=11, xmp=True)
    # Bytes between two segments: decoders skip them, a segment walker cannot.
    junk = original.index(b"\xff\xdb")
    original = original[:junk] + b"\x00\x00garbage" + original[junk:]
    with pytest.raises(exif.NotAnImage):
        exif._jpeg_segments(original)
    photo = ingest(deployment, None, data=original)
    client.force_login(manager)
    response = client.get(f"/photos/{photo.pk}/file")
    served = _body(response)
    assert response["Content-Type"] == "image/jpeg"
    assert_no_position(served)
    assert not piexif.load(served)["0th"]
    assert Image.open(io.BytesIO(served)).size == Image.open(io.BytesIO(original)).size


def test_another_format_is_re_encoded_as_png():
    out = io.BytesIO()
    plain_image().save(out, "TIFF", exif=piexif.dump({"GPS": {2: ((43, 1), (7, 1), (0, 1))}}))
    original = out.getvalue()
    assert exif.has_location(original)
    rebuilt = exif.without_location(original)
    assert rebuilt.media_type == "image/png"
    assert_no_position(rebuilt.data)
    assert_same_image(rebuilt.data, plain_image_png())


def plain_image_png() -> bytes:
    out = io.BytesIO()
    plain_image().save(out, "PNG")
    return out.getvalue()


def test_bytes_that_are_no_image_are_refused():
    with pytest.raises(exif.NotAnImage):
        exif.without_location(b"GIF89a not really")
    assert exif.has_location(b"GIF89a not really")


def test_a_camera_photo_without_gps_is_not_taken_for_a_located_one():
    assert not exif.has_location(jpeg_bytes())
    assert not exif.has_location(plain_image_png())


def test_after_the_end_of_the_image_a_second_image_with_gps_counts():
    # Multi-picture JPEGs carry a second image, with its own EXIF, after the first's end.
    data = jpeg_bytes() + jpeg_with_gps()
    assert exif.has_location(data)
    served = exif.without_location(data).data
    assert served.count(b"\xff\xd8") == 1
    assert_no_position(served)


def test_a_png_text_chunk_that_does_not_inflate_counts_as_located():
    data = plain_image_png()
    bad = png_chunk(b"zTXt", b"Comment\x00\x00not zlib at all")
    iend = data.rindex(b"IEND") - 4
    assert exif.has_location(data[:iend] + bad + data[iend:])


@pytest.mark.parametrize("exact", [False, True])
def test_a_camtrap_dp_package_carries_originals_only_with_exact_coordinates(
    park, deployment, tmp_path, exact
):
    from exchange.camtrap_dp.export import package_write

    original = jpeg_with_gps(seed=12, xmp=True)
    photo = ingest(deployment, None, data=original)
    assert photo.taken_at is not None
    package_write(
        out_dir=tmp_path / "package", parks=[park], exact_coordinates=exact, include_media=True
    )
    (written,) = (tmp_path / "package" / "media").iterdir()
    if exact:
        assert written.read_bytes() == original
    else:
        assert_no_position(written.read_bytes())
        assert image_data(written.read_bytes()) == image_data(original)


@pytest.mark.parametrize(
    "options",
    [
        {"progressive": True},  # several scans, with tables between them
        {"restart_marker_blocks": 2},  # restart markers inside the entropy-coded data
        {"mode": "CMYK"},  # the Adobe marker decides how the channels read
        {"subsampling": 0, "quality": 95},
    ],
    ids=["progressive", "restart_markers", "cmyk", "no_subsampling"],
)
def test_jpeg_variants_keep_their_coded_image_byte_for_byte(options):
    options = dict(options)
    image = plain_image(seed=13).convert(options.pop("mode", "RGB"))
    out = io.BytesIO()
    gps = piexif.dump({"GPS": {piexif.GPSIFD.GPSLatitude: ((43, 1), (7, 1), (2345, 100))}})
    image.save(out, "JPEG", exif=gps, **options)
    original = out.getvalue()
    assert exif.has_location(original)
    served = exif.without_location(original).data
    assert_no_position(served)
    assert_same_image(served, original)
    assert image_data(served) == image_data(original)
