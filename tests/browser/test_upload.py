"""A ranger uploads a card folder in the browser, sees the counts, and uploads it again."""

import hashlib
import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from tests.factories import DeploymentFactory, PhotoFactory, jpeg_bytes
from traps.models import Photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def card(tmp_path):
    folder = tmp_path / "DCIM"
    folder.mkdir()
    for i in range(3):
        (folder / f"IMG_{i:04d}.JPG").write_bytes(
            jpeg_bytes(taken=datetime(2024, 5, 1, 22, 15 + i), seed=300 + i)
        )
    (folder / "IMG_0003.JPG").write_text("not a photo at all, just text renamed")
    return folder


def _upload(page, card) -> None:
    page.set_input_files("#folder-input", str(card))
    # Locator assertions, not wait_for_function: the page's CSP forbids evaluating strings.
    expect(page.locator("#start")).to_be_enabled()
    page.click("#start")
    expect(page.locator("#status")).to_have_text(re.compile(r"^Done"), timeout=30_000)


def _count(page, name: str) -> str:
    return page.inner_text(f"#count-{name}")


def test_ranger_uploads_a_folder_sees_counts_and_nothing_is_sent_twice(page, ranger, park, card):
    deployment = DeploymentFactory(
        station__park=park,
        camera_serial="CAM41146",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=None,
    )
    browser_login(page, ranger)
    page.goto(f"{page.base_url}/upload/")
    page.select_option("#deployment", str(deployment.pk))

    _upload(page, card)
    assert _count(page, "total") == "4"
    assert _count(page, "stored") == "3"
    assert _count(page, "rejected") == "1"
    assert _count(page, "duplicates") == "0"
    rejected = page.inner_text("#rejected-list")
    assert "IMG_0003.JPG" in rejected
    assert "not a photo" in rejected
    page.screenshot(path=str(card.parent / "upload-done.png"), full_page=True)
    assert Photo.objects.filter(deployment=deployment).count() == 3

    # The same card again: the three stored photos are recognised by their hash
    # and not sent; only the rejected file goes up (and is refused) again.
    _upload(page, card)
    assert _count(page, "duplicates") == "3"
    assert _count(page, "sent") == "1"
    assert _count(page, "stored") == "0"
    assert _count(page, "rejected") == "1"
    assert Photo.objects.count() == 3
    assert Photo.objects.filter(status=Photo.Status.PROCESSED).count() == 3


def test_upload_page_proposes_the_deployment_from_the_cameras_serial(page, ranger, park, card):
    deployment = DeploymentFactory(
        station__park=park,
        camera_serial="CAM41146",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=None,
    )
    DeploymentFactory(station__park=park, camera_serial="CAM77777", end=None)
    browser_login(page, ranger)
    page.goto(f"{page.base_url}/upload/")
    page.set_input_files("#files-input", [str(p) for p in sorted(card.glob("IMG_000[0-2].JPG"))])
    expect(page.locator("#deployment")).not_to_have_value("")
    assert page.input_value("#deployment") == str(deployment.pk)
    assert "CAM41146" in page.inner_text("#proposal")


# ---- a card of thousands: hashing in a worker, batched lookups, summary, resume ----

# Counts Web Crypto digests on the page itself and ticks a timer; the hashing
# worker has its own crypto, which this does not touch.
COUNT_PAGE_DIGESTS = """
window.__pageDigests = 0;
if (window.crypto && window.crypto.subtle) {
  const digest = SubtleCrypto.prototype.digest;
  SubtleCrypto.prototype.digest = function (...args) {
    window.__pageDigests += 1;
    return digest.apply(this, args);
  };
}
"""

# What a plain-HTTP field server looks like to the page: no crypto.subtle.
WITHOUT_WEB_CRYPTO = "Object.defineProperty(Crypto.prototype, 'subtle', { get: () => undefined });"


def _record_lookups(page) -> list[list[str]]:
    lookups: list[list[str]] = []

    def on_request(request) -> None:
        if request.url.endswith("/api/photos/lookup/"):
            lookups.append(request.post_data_json["sha256"])

    page.on("request", on_request)
    return lookups


def _deployment(park):
    return DeploymentFactory(
        station__park=park,
        camera_serial="CAM41146",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=None,
    )


def _start(page, deployment, paths) -> None:
    page.goto(f"{page.base_url}/upload/")
    page.select_option("#deployment", str(deployment.pk))
    page.set_input_files("#files-input", [str(p) for p in paths])
    expect(page.locator("#start")).to_be_enabled()
    page.click("#start")


def _wait_done(page) -> None:
    expect(page.locator("#progress-panel")).to_have_attribute("data-state", "done", timeout=60_000)


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_files_are_hashed_in_a_worker_and_never_on_the_page(page, ranger, park, card):
    deployment = _deployment(park)
    workers = []
    page.on("worker", lambda worker: workers.append(worker.url))
    page.add_init_script(COUNT_PAGE_DIGESTS)
    lookups = _record_lookups(page)
    browser_login(page, ranger)
    paths = sorted(card.glob("IMG_000[0-2].JPG"))

    _start(page, deployment, paths)
    _wait_done(page)

    assert any("upload-hash-worker" in url for url in workers)
    assert page.evaluate("window.__pageDigests") == 0
    assert sorted(h for batch in lookups for h in batch) == sorted(map(_sha256, paths))
    assert _count(page, "stored") == "3"


def test_without_web_crypto_the_worker_hashes_large_files_in_slices_like_hashlib(
    page, ranger, park, card
):
    deployment = _deployment(park)
    # Larger than one 4 MB slice, and not a multiple of it.
    big = card / "BIG_0001.JPG"
    big.write_bytes(random.Random(17).randbytes(9 * 1024 * 1024 + 12345))
    scripts = []
    page.on("request", lambda request: scripts.append(request.url))
    page.add_init_script(WITHOUT_WEB_CRYPTO)
    lookups = _record_lookups(page)
    browser_login(page, ranger)
    paths = [*sorted(card.glob("IMG_000[0-2].JPG")), big]

    _start(page, deployment, paths)
    _wait_done(page)

    assert page.evaluate("typeof hashwasm") == "undefined"  # loaded in the worker only
    assert any("vendor/hash-wasm/" in url for url in scripts)
    assert sorted(h for batch in lookups for h in batch) == sorted(map(_sha256, paths))
    # The server checks the hash the page sends: a wrong one would not be stored.
    assert _count(page, "stored") == "3"
    assert _count(page, "rejected") == "1"


def test_lookup_is_batched_and_stored_photos_are_not_sent(page, ranger, park, tmp_path):
    deployment = _deployment(park)
    folder = tmp_path / "card"
    folder.mkdir()
    paths = []
    for i in range(12):
        path = folder / f"IMG_{i:04d}.JPG"
        path.write_bytes(jpeg_bytes(taken=datetime(2024, 5, 2, 3, i), seed=500 + i))
        paths.append(path)
    for path in paths[:8]:
        PhotoFactory(deployment=deployment, sha256=_sha256(path))
    lookups = _record_lookups(page)
    sent = []
    page.on(
        "request",
        lambda r: sent.append(r) if r.method == "POST" and r.url.endswith("/api/photos/") else None,
    )

    def slow_lookup(route) -> None:
        # Hold the first answer so that the other hashes wait for one batch.
        if len(lookups) == 1:
            time.sleep(2)
        route.continue_()

    page.route("**/api/photos/lookup/", slow_lookup)
    browser_login(page, ranger)

    _start(page, deployment, paths)
    _wait_done(page)

    assert sorted(h for batch in lookups for h in batch) == sorted(map(_sha256, paths))
    assert len(lookups) < len(paths)
    assert max(map(len, lookups)) > 1
    assert len(sent) == 4
    assert _count(page, "duplicates") == "8"
    assert _count(page, "stored") == "4"
    assert Photo.objects.filter(deployment=deployment).count() == 12


def test_summary_counts_every_outcome_and_caps_the_problem_rows(page, ranger, park, tmp_path):
    deployment = _deployment(park)
    folder = tmp_path / "card"
    folder.mkdir()
    good = []
    for i in range(3):
        path = folder / f"IMG_{i:04d}.JPG"
        path.write_bytes(jpeg_bytes(taken=datetime(2024, 5, 3, 3, i), seed=700 + i))
        good.append(path)
    PhotoFactory(deployment=deployment, sha256=_sha256(good[0]))
    bad = []
    for i in range(103):
        path = folder / f"NOTE_{i:04d}.JPG"
        path.write_text(f"not a photo, note {i}")
        bad.append(path)
    browser_login(page, ranger)

    _start(page, deployment, good + bad)
    _wait_done(page)

    assert page.inner_text("#status") == "Done: 2 stored, 1 already stored, 103 rejected."
    assert _count(page, "total") == "106"
    assert page.locator("#rejected-list tr").count() == 100
    assert "NOTE_0000.JPG" in page.inner_text("#rejected-list")
    assert "3 more" in page.inner_text("#problems-more")
    with page.expect_download() as download:
        page.click("#save-problems")
    listed = Path(download.value.path()).read_text().splitlines()
    assert len(listed) == 103
    assert all(line.startswith("NOTE_") and "\t" in line for line in listed)
    for width in (360, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(tmp_path / f"upload-summary-{width}.png"), full_page=True)


def test_an_interrupted_card_resumes_the_next_day_from_what_is_stored(page, ranger, park, tmp_path):
    deployment = _deployment(park)
    folder = tmp_path / "card"
    folder.mkdir()
    paths = []
    for i in range(5):
        path = folder / f"IMG_{i:04d}.JPG"
        path.write_bytes(jpeg_bytes(taken=datetime(2024, 5, 4, 3, i), seed=900 + i))
        paths.append(path)
    let_through = {"n": 2}

    def connection_drops(route) -> None:
        # Two photos go up, then the connection drops and the tab is closed.
        if let_through["n"] > 0:
            let_through["n"] -= 1
            route.continue_()
        else:
            route.abort("internetdisconnected")

    page.route("**/api/photos/", connection_drops)
    browser_login(page, ranger)
    _start(page, deployment, paths)
    expect(page.locator("#count-stored")).to_have_text("2")
    for width in (360, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(tmp_path / f"upload-during-{width}.png"), full_page=True)
    context, base_url = page.context, page.base_url
    page.close()

    # The next day, in the same browser.
    page = context.new_page()
    page.goto(f"{base_url}/upload/")
    page.select_option("#deployment", str(deployment.pk))
    expect(page.locator("#resume-note")).to_be_visible()
    assert re.search(r"after \d of 5 files", page.inner_text("#resume-note"))
    page.set_input_files("#files-input", [str(p) for p in paths])
    page.click("#start")
    _wait_done(page)
    assert _count(page, "duplicates") == "2"
    assert _count(page, "stored") == "3"
    assert _count(page, "sent") == "3"
    assert Photo.objects.filter(deployment=deployment).count() == 5
    page.select_option("#deployment", "")
    page.select_option("#deployment", str(deployment.pk))
    expect(page.locator("#resume-note")).to_be_hidden()


def test_files_not_sent_are_counted_and_go_again_when_the_connection_returns(
    page, ranger, park, tmp_path
):
    deployment = _deployment(park)
    folder = tmp_path / "card"
    folder.mkdir()
    paths = []
    for i in range(2):
        path = folder / f"IMG_{i:04d}.JPG"
        path.write_bytes(jpeg_bytes(taken=datetime(2024, 5, 5, 3, i), seed=950 + i))
        paths.append(path)
    # The link drops for every photo sent; the lookups still get through.
    page.route("**/api/photos/", lambda route: route.abort("internetdisconnected"))
    browser_login(page, ranger)

    _start(page, deployment, paths)
    # Six tries each, backing off for about 31 s in all.
    expect(page.locator("#progress-panel")).to_have_attribute("data-state", "done", timeout=90_000)

    assert _count(page, "failed") == "2"
    assert _count(page, "stored") == "0"
    assert page.inner_text("#retry-text").startswith("2 files were not sent.")
    assert "connection failed" in page.inner_text("#rejected-list")
    assert Photo.objects.count() == 0

    page.unroute("**/api/photos/")
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#status")).to_have_text(re.compile(r"^Done"), timeout=30_000)
    assert _count(page, "stored") == "2"
    assert _count(page, "total") == "2"
    assert page.locator("#retry-note").is_hidden()
    assert Photo.objects.filter(deployment=deployment).count() == 2
