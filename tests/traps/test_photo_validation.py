"""Files are judged by content: each bad kind is refused with its own reason."""

import io

import pytest

from tests.factories import DeploymentFactory, jpeg_bytes
from tests.traps.images import (
    image_bytes,
    jpeg_bomb,
    png_bomb,
    png_bytes,
    truncated_jpeg,
)
from traps.images import PhotoRejected
from traps.models import Photo
from traps.services import photo_receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(park):
    return DeploymentFactory(station__park=park)


def _receive(deployment, data: bytes, name: str = "IMG_0001.JPG"):
    return photo_receive(deployment=deployment, fileobj=io.BytesIO(data), original_name=name)


def _rejected(deployment, data: bytes, name: str = "IMG_0001.JPG") -> PhotoRejected:
    with pytest.raises(PhotoRejected) as caught:
        _receive(deployment, data, name)
    assert Photo.objects.count() == 0
    return caught.value


def test_stores_a_jpeg_under_its_hash_not_its_name(deployment):
    result = _receive(deployment, jpeg_bytes(), "IMG_0001.JPG")
    photo = result.photo
    assert result.created
    assert photo.file.name == f"photos/{photo.sha256[:2]}/{photo.sha256[2:4]}/{photo.sha256}.jpg"
    assert photo.file.storage.exists(photo.file.name)
    assert (photo.media_type, photo.width, photo.height) == ("image/jpeg", 640, 480)


def test_rejects_truncated_jpeg_and_keeps_batch(deployment):
    assert _rejected(deployment, truncated_jpeg()).code == "truncated"
    assert _receive(deployment, jpeg_bytes(seed=1)).created


def test_rejects_text_file_renamed_jpg(deployment):
    rejected = _rejected(deployment, b"Station 5 notes: battery low\n" * 20, "notes.jpg")
    assert rejected.code == "not_an_image"
    assert "not a photo" in rejected.message


def test_rejects_zero_byte_file(deployment):
    rejected = _rejected(deployment, b"")
    assert rejected.code == "empty"
    assert "0 bytes" in rejected.message


def test_rejects_file_over_the_byte_limit_before_decoding(deployment, settings):
    settings.PHOTO_MAX_BYTES = 1000
    rejected = _rejected(deployment, jpeg_bytes(size=(320, 240), seed=3) + b"\0" * 2000)
    assert rejected.code == "too_large"


def test_rejects_image_with_more_pixels_than_the_limit(deployment, settings):
    settings.PHOTO_MAX_PIXELS = 100_000
    rejected = _rejected(deployment, jpeg_bytes(size=(640, 480)))
    assert rejected.code == "too_many_pixels"


@pytest.mark.parametrize("bomb", [png_bomb, jpeg_bomb], ids=["png", "jpeg"])
def test_rejects_decompression_bomb_header_without_decoding_it(deployment, bomb):
    rejected = _rejected(deployment, bomb())
    assert rejected.code == "too_many_pixels"
    assert "not opened" in rejected.message or "megapixels" in rejected.message


@pytest.mark.parametrize("name", ["../x.jpg", "a/b.jpg", "a\\b.jpg", "x\x00.jpg", "..", "x\n.jpg"])
def test_rejects_file_names_that_try_a_path(deployment, name):
    assert _rejected(deployment, jpeg_bytes(), name).code == "bad_name"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_rejects_other_image_formats_as_unsupported(deployment, fmt):
    rejected = _rejected(deployment, image_bytes(fmt), f"frame.{fmt.lower()}")
    assert rejected.code == "unsupported_format"
    assert fmt in rejected.message


def test_rejects_heic_with_its_own_message(deployment):
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
    rejected = _rejected(deployment, heic, "IMG_1234.HEIC")
    assert rejected.code == "unsupported_format"
    assert "HEIC" in rejected.message


def test_accepts_png_and_stores_it_as_png(deployment):
    photo = _receive(deployment, png_bytes(), "frame.png").photo
    assert photo.media_type == "image/png"
    assert photo.file.name.endswith(".png")


def test_judges_by_content_so_a_jpeg_named_png_is_a_jpeg(deployment):
    photo = _receive(deployment, jpeg_bytes(), "IMG_0001.png").photo
    assert photo.media_type == "image/jpeg"


def test_returns_the_existing_photo_for_the_same_bytes_and_stores_nothing_twice(deployment):
    first = _receive(deployment, jpeg_bytes(seed=5), "IMG_0005.JPG")
    again = _receive(deployment, jpeg_bytes(seed=5), "copy of IMG_0005.JPG")
    assert again.created is False
    assert again.photo.pk == first.photo.pk
    assert again.photo.original_name == "IMG_0005.JPG"
    assert Photo.objects.count() == 1


def test_rejects_bytes_that_do_not_match_the_checksum_sent(deployment):
    with pytest.raises(PhotoRejected) as caught:
        photo_receive(
            deployment=deployment,
            fileobj=io.BytesIO(jpeg_bytes()),
            original_name="a.jpg",
            expected_sha256="0" * 64,
        )
    assert caught.value.code == "hash_mismatch"


def test_queues_processing_only_after_the_commit(deployment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        photo = _receive(deployment, jpeg_bytes(seed=9)).photo
        assert photo.status == Photo.Status.RECEIVED
    assert len(callbacks) == 1
