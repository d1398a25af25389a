"""manage.py fit_match_whitening: the pair check's projection fitted on confirmed photos."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import numpy as np
import pytest
from django.core import checks
from django.core.management import CommandError, call_command

from leopards.matching import catalogue, verify, whitening
from leopards.matching.learned import LearnedFeatures, backend_model, network_of
from leopards.matching.whitening import Whitening
from leopards.models import Flank, MatchCandidate, Sighting
from tests.factories import LeopardFactory, SightingFactory
from tests.leopards.described_patches import box, patches, points, views
from traps.models import Event

pytestmark = pytest.mark.django_db


def _catalogue(settings, animals: int, photos: int, *, changing: float = 0.5) -> list:
    """Confirmed left flanks of `animals` individuals, `photos` each, with stored DISK
    features that the raw pair check matches (about 40 inliers a pair)."""
    model = backend_model(settings.MATCH_LEARNED_BACKEND)
    made = []
    for animal in range(animals):
        leopard = LeopardFactory(code=f"LEO-9{animal:02d}")
        seen, where = patches(300, 100 + animal), points(300, 200 + animal)
        for shot in range(photos):
            features = box(views(seen, 1000 * animal + shot, changing), where + shot, model)
            made.append(
                SightingFactory(
                    leopard=leopard,
                    flank=Flank.LEFT,
                    learned_features=features.to_bytes(),
                    learned_model=model,
                )
            )
    return made


def test_the_projection_fitted_on_confirmed_photos_finds_what_the_raw_check_misses(
    settings, tmp_path
):
    _catalogue(settings, animals=5, photos=5)
    out = tmp_path / "whitening.npz"
    printed = StringIO()

    call_command("fit_match_whitening", "--out", str(out), "--dimensions", "24", stdout=printed)

    # 5 animals x 10 pairs of photos, each with about 40 inliers.
    assert "50 pairs of photos checked, 50 with at least 15 inliers, of 5 individuals" in (
        printed.getvalue()
    )
    settings.MATCH_WHITENING_FILE = str(out)
    projection = catalogue.whitening()
    assert isinstance(projection, Whitening) and projection.pairs > 2000
    assert projection.model == network_of(backend_model(settings.MATCH_LEARNED_BACKEND))
    # An animal it never saw, in harsher light: the raw check loses its patches.
    seen, where = patches(300, 7), points(300, 8)
    one = box(views(seen, 9, 0.7), where, projection.model)
    two = box(views(seen, 10, 0.7), where + 2.0, projection.model)
    assert verify.pair_inliers(one, two) < 15
    assert (
        verify.pair_inliers(verify.projected(one, projection), verify.projected(two, projection))
        > 3 * verify.MIN_OVERTAKE
    )


def test_photos_of_one_event_unconfirmed_and_too_few_pairs_give_no_projection(settings, tmp_path):
    made = _catalogue(settings, animals=1, photos=4)
    # Two photos of one visit, a proposed identification and another flank's photo.
    event = Event.objects.create(
        deployment=made[0].photo.deployment,
        start=datetime(2024, 5, 1, 12, tzinfo=UTC),
        end=datetime(2024, 5, 1, 12, tzinfo=UTC) + timedelta(minutes=2),
    )
    for sighting in made[:2]:
        type(sighting.photo).objects.filter(pk=sighting.photo_id).update(event=event)
    Sighting.objects.filter(pk=made[2].pk).update(status=Sighting.Status.PROPOSED)
    out = tmp_path / "whitening.npz"

    with pytest.raises(CommandError, match=r"No projection written: .* a fit needs at least"):
        call_command("fit_match_whitening", "--out", str(out), stdout=StringIO())
    assert not out.exists()

    # Of the three confirmed photos, the two of one event are not compared.
    printed = StringIO()
    call_command("fit_match_whitening", "--out", str(out), "--min-pairs", "10", stdout=printed)
    assert "2 pairs of photos checked, 2 with at least 15 inliers, of 1 individuals" in (
        printed.getvalue()
    )
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("fit_match_whitening", "--out", str(tmp_path / "no" / "w.npz"))
    with pytest.raises(CommandError, match="--photos-per-flank must be at least 2"):
        call_command("fit_match_whitening", "--out", str(out), "--photos-per-flank", "-3")


def test_a_file_that_cannot_be_written_is_said_plainly(settings, tmp_path):
    _catalogue(settings, animals=5, photos=5)
    folder = tmp_path / "taken"
    folder.mkdir()
    # The file's place is held by a folder: nothing can be written there.
    (folder / "whitening.npz").mkdir()

    with pytest.raises(CommandError, match=r"whitening\.npz cannot be written"):
        call_command(
            "fit_match_whitening", "--out", str(folder / "whitening.npz"), stdout=StringIO()
        )


def test_a_projection_that_cannot_be_used_is_reported_and_not_read(settings, tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a projection")
    other = tmp_path / "other.npz"
    Whitening(
        mean=np.zeros(128, np.float32),
        projection=np.eye(128, 48, dtype=np.float32),
        model="another-network",
        pairs=5000,
    ).save(other)

    settings.MATCH_WHITENING_FILE = str(garbage)
    found = [m for m in checks.run_checks() if m.id == "leopards.W004"]
    assert len(found) == 1 and "not a descriptor projection" in found[0].msg
    assert catalogue.whitening() is None

    settings.MATCH_WHITENING_FILE = str(other)
    found = [m for m in checks.run_checks() if m.id == "leopards.W004"]
    assert len(found) == 1 and "'another-network'" in found[0].msg

    settings.MATCH_WHITENING_FILE = "none"
    assert not [m for m in checks.run_checks() if m.id == "leopards.W004"]
    assert catalogue.whitening() is None


def test_without_a_file_the_check_projects_with_the_one_shipped_for_disk(settings):
    settings.MATCH_WHITENING_FILE = ""

    shipped = catalogue.whitening()

    assert not [m for m in checks.run_checks() if m.id == "leopards.W004"]
    assert shipped.model == network_of(backend_model("disk"))
    assert shipped.projection.shape == (128, whitening.DIMENSIONS)
    assert "nyala" in shipped.fitted_on and shipped.pairs > 20_000


def test_the_worker_checks_pairs_with_the_projection_it_is_given(
    settings, monkeypatch, park, tmp_path
):
    from leopards.services import matching
    from tests.leopards.stage_two import catalogue_of_two

    settings.MATCH_RERANK_TOP_K, settings.MATCH_VERIFY_TOP_N = 1, 20
    right, _wrong, _references, query = catalogue_of_two(park, ("LEO-321U", "LEO-322U"))
    path = tmp_path / "whitening.npz"
    # DISK's own descriptors, only rotated: the check finds what it found without it.
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(128, 128)))[0]
    Whitening(
        mean=np.zeros(128, np.float32),
        projection=rotation.astype(np.float32),
        model=network_of(backend_model(settings.MATCH_LEARNED_BACKEND)),
        pairs=5000,
    ).save(path)
    settings.MATCH_WHITENING_FILE = str(path)
    given = []
    real_verify = matching.verify

    def spy(*args, **kwargs):
        given.append(kwargs.get("whitening"))
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(matching, "verify", spy)

    matching.sighting_rank_candidates(sighting_id=query.pk)

    assert len(given) == 1 and isinstance(given[0], Whitening)
    assert np.array_equal(given[0].projection, Whitening.load(path).projection)
    # It projects the stored boxes' descriptors (ISNet's outline or not).
    stored = LearnedFeatures.from_bytes(bytes(Sighting.objects.get(pk=query.pk).learned_features))
    assert verify.projected(stored, given[0]) is not stored
    first = MatchCandidate.objects.get(sighting=query, rank=1)
    assert first.leopard_id == right.pk
