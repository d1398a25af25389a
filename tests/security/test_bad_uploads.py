"""Hostile uploads: Camtrap DP packages and MegaDetector results are refused with a reason."""

import io
import json
import zipfile

import pytest
from django.urls import reverse
from django.utils import translation

from tests.exchange.test_camtrap_dp_import import third_party_package
from tests.factories import DeploymentFactory, PhotoFactory
from tests.security.test_bad_input import DEEP, stored

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def deployment(park):
    deployment = DeploymentFactory(station__park=park)
    PhotoFactory(deployment=deployment, original_name="IMG_0001.JPG")
    return deployment


# 12 and 14. Camtrap DP packages


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _package_files(tmp_path) -> dict[str, bytes]:
    folder = third_party_package(tmp_path / "pkg")
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _descriptor_with(files: dict[str, bytes], change) -> dict[str, bytes]:
    descriptor = json.loads(files["datapackage.json"])
    change(descriptor)
    return {**files, "datapackage.json": json.dumps(descriptor).encode()}


def _point_media_at(path: str):
    def change(descriptor: dict) -> None:
        for resource in descriptor["resources"]:
            if resource["name"] == "media":
                resource["path"] = path

    return change


def _add_resource(path: str):
    def change(descriptor: dict) -> None:
        descriptor["resources"].append({"name": "individuals", "path": path})

    return change


def hostile_packages(files: dict[str, bytes]) -> dict[str, tuple[dict[str, bytes], str]]:
    """Each hostile package, with a phrase its refusal must contain."""
    deployments = files["deployments.csv"]
    first_line_end = deployments.index(b"\n") + 1
    nul_row = deployments[:first_line_end] + deployments[first_line_end:].replace(b",", b"\x00,", 1)
    return {
        "deep descriptor": (
            {**files, "datapackage.json": b'{"a":' * DEEP + b"1" + b"}" * DEEP},
            "nested more than",
        ),
        "descriptor with NaN": (
            {**files, "datapackage.json": files["datapackage.json"][:-1] + b', "x": NaN}'},
            "NaN",
        ),
        "CSV not UTF-8": (
            {**files, "deployments.csv": deployments.replace(b"\n", "\nä".encode("latin-1"), 1)},
            "UTF-8",
        ),
        "NUL in a value": ({**files, "deployments.csv": nul_row}, "NUL"),
        "absolute resource path": (
            _descriptor_with(files, _point_media_at("/etc/passwd")),
            "outside",
        ),
        "resource path up the tree": (
            _descriptor_with(files, _point_media_at("../../x.csv")),
            "outside",
        ),
        "extra table outside": (
            _descriptor_with(files, _add_resource("/etc/passwd")),
            "outside",
        ),
    }


@pytest.fixture
def import_package(client, django_capture_on_commit_callbacks):
    """Post a package as the page does, run its import job as a worker would, open the job."""

    def post(archive: bytes, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            queued = client.post(
                reverse("exchange:import-package"),
                {"park": "alpha", "package": _named(archive)},
                **headers,
            )
        # The request only queues the import: the job's page tells what became of it.
        assert queued.status_code == 302, (queued.status_code, queued.content[:500])
        page = client.get(queued["Location"], **headers)
        assert page.status_code == 200
        assert page.context["job"].status == "failed"
        return page

    return post


def test_hostile_camtrap_dp_packages_are_refused_with_a_reason(
    client, park, scientist, tmp_path, import_package
):
    client.raise_request_exception = False
    client.force_login(scientist)
    files = _package_files(tmp_path)
    before = stored()
    for name, (package, reason) in hostile_packages(files).items():
        page = import_package(_zip(package))
        assert "The package was refused; nothing was imported." in page.text, name
        assert reason in page.text, (name, page.text[-3000:])
    assert stored() == before


def test_a_refused_package_reads_in_the_readers_language(
    client, park, scientist, tmp_path, import_package
):
    client.force_login(scientist)
    files = _package_files(tmp_path)
    package, _ = hostile_packages(files)["absolute resource path"]
    with translation.override("ru"):
        page = import_package(_zip(package), HTTP_ACCEPT_LANGUAGE="ru")
    assert "за пределы пакета" in page.text


def _named(content: bytes, name: str = "package.zip") -> io.BytesIO:
    upload = io.BytesIO(content)
    upload.name = name
    return upload


def _bomb(*, files: int = 1, size: int = 0) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("datapackage.json", b"{}")
        for index in range(files):
            archive.writestr(f"media/{index}.bin", b"\0" * size)
    return buffer.getvalue()


def test_a_zip_bomb_is_refused_from_its_listing(client, park, scientist, settings, import_package):
    settings.IMPORT_ZIP_MAX_BYTES = 50 * 1024 * 1024
    client.force_login(scientist)
    before = stored()
    # 60 MB of zeros, packed to about 60 kB.
    page = import_package(_bomb(size=60 * 1024 * 1024))
    assert "unpacks to more than" in page.text
    assert stored() == before


def test_a_zip_of_too_many_files_is_refused(client, park, scientist, settings, import_package):
    settings.IMPORT_ZIP_MAX_FILES = 100
    client.force_login(scientist)
    assert "more than 100 files" in import_package(_bomb(files=150)).text


def test_a_file_packed_far_tighter_than_any_photo_or_table_is_refused(
    client, park, scientist, import_package
):
    client.force_login(scientist)
    assert "packed too tightly" in import_package(_bomb(size=5 * 1024 * 1024)).text


def _lying_zip(declared: int, actual: bytes) -> bytes:
    """A zip whose listing declares a smaller size for a file than it unpacks to."""
    data = bytearray(_zip({"datapackage.json": b"{}", "media/a.bin": actual}))
    # Overwrite the uncompressed size in both the local header and the central directory.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_length_at = start + (26 if signature == b"PK\x03\x04" else 28)
            name_length = int.from_bytes(data[name_length_at : name_length_at + 2], "little")
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + name_length] == b"media/a.bin":
                data[start + offset : start + offset + 4] = declared.to_bytes(4, "little")
            start += 4
    return bytes(data)


def test_a_zip_that_lies_about_its_sizes_is_refused_while_unpacking(tmp_path, settings):
    from exchange.camtrap_dp.importer import package_folder
    from exchange.camtrap_dp.validation import PackageInvalid

    path = tmp_path / "lying.zip"
    path.write_bytes(_lying_zip(declared=10, actual=bytes(range(256)) * 4096))
    with pytest.raises(PackageInvalid) as refused, package_folder(path):
        pass
    assert "media/a.bin" in str(refused.value.problems[0])


# 13. MegaDetector results


def _detector(**image_fields) -> dict:
    image = {
        "file": "IMG_0001.JPG",
        "detections": [{"category": "1", "conf": 0.9, "bbox": [0.1, 0.1, 0.3, 0.3]}],
    }
    image.update(image_fields)
    return {"detection_categories": {"1": "animal"}, "images": [image]}


def hostile_results() -> dict[str, tuple[bytes, str]]:
    plain = json.dumps(_detector())
    return {
        "deep": (b'{"a":' * DEEP + b"1" + b"}" * DEEP, "nested more than"),
        "info a list": (json.dumps({**_detector(), "info": ["x"]}).encode(), "info"),
        "info a string": (json.dumps({**_detector(), "info": "v5"}).encode(), "info"),
        "conf of 400 digits": (plain.replace("0.9", "1" + "0" * 400).encode(), "too large"),
        "box of 400 digits": (
            plain.replace("0.3,", "1" + "0" * 400 + ",", 1).encode(),
            "too large",
        ),
        "NaN box": (plain.replace("0.3,", "NaN,", 1).encode(), "NaN"),
        "Infinity conf": (plain.replace("0.9", "Infinity").encode(), "NaN"),
        "conf above one": (plain.replace("0.9", "7.5").encode(), "between 0 and 1"),
        "NUL in a file name": (plain.replace("IMG_0001", "IMG\\u0000").encode(), "NUL"),
        "not UTF-8": (plain.encode().replace(b"IMG_0001", b"IMG\xff"), "JSON"),
    }


def test_hostile_megadetector_results_are_refused_with_a_reason(client, deployment, scientist):
    client.raise_request_exception = False
    client.force_login(scientist)
    before = stored()
    for name, (content, reason) in hostile_results().items():
        response = client.post(
            reverse("exchange:import-megadetector"),
            {
                "deployment": deployment.pk,
                "threshold": "0.2",
                "results": _named(content, "md.json"),
            },
        )
        assert response.status_code == 400, (name, response.status_code, response.content[:500])
        assert reason in response.text, (name, response.text[-3000:])
    assert stored() == before


def test_a_table_of_more_rows_than_the_limit_is_refused_by_name(
    client, park, scientist, settings, tmp_path, import_package
):
    settings.IMPORT_MAX_ROWS = 3  # the package's media table has 4 rows
    client.force_login(scientist)
    before = stored()
    page = import_package(_zip(_package_files(tmp_path)))
    assert "media.csv: The table has more than 3 rows" in page.text
    assert "deployments.csv: The table" not in page.text
    assert stored() == before


def test_the_row_limit_counts_rows_not_lines(settings, tmp_path):
    """A quoted value may span lines: a table at the limit is not refused for them."""
    import csv

    from exchange.camtrap_dp.validation import package_problems
    from tests.exchange.test_camtrap_dp_import import third_party_package

    folder = third_party_package(tmp_path / "pkg")
    path = folder / "deployments.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    rows[0]["deploymentComments"] = "Moved after the flood.\nStrap replaced.\nLens cleaned."
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    # One row on four lines, at a limit of one: the lines do not count, the row does.
    settings.IMPORT_MAX_ROWS = 1

    def over_the_limit() -> list[str]:
        return [p.where for p in package_problems(folder) if "rows" in p.message]

    assert "deployments.csv" not in over_the_limit()
    assert "media.csv" in over_the_limit()
    settings.IMPORT_MAX_ROWS = 0
    assert over_the_limit() == ["deployments.csv", "media.csv", "observations.csv"]
