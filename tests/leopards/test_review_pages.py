"""The review queue and review page: who sees them, what they show, their form actions."""

from datetime import timedelta

import pytest
from django.urls import reverse

from accounts.roles import Role
from leopards.models import CatalogueChange, EventReview, MatchCandidate, Sighting
from leopards.services import review
from tests.factories import UserFactory
from tests.leopards.reviewkit import START, known_leopard, make_event, station_in
from traps.models import Event


def queue_url(**params: str) -> str:
    from urllib.parse import urlencode

    return reverse("leopards:review-queue") + ("?" + urlencode(params) if params else "")


def test_the_queue_lists_waiting_events_oldest_first_with_counts(client, park, scientist):
    later = make_event(park, photos=3, start=START + timedelta(days=2))
    earlier = make_event(park, photos=1, start=START)
    done = make_event(park, photos=1, start=START + timedelta(days=1))
    Event.objects.filter(pk=done.event.pk).update(status=Event.Status.REVIEWED)
    client.force_login(scientist)
    response = client.get(queue_url())
    assert response.status_code == 200
    events = list(response.context["page"].object_list)
    assert [e.pk for e in events] == [earlier.event.pk, later.event.pk]
    assert (events[1].photo_count, events[1].open_count) == (3, 3)
    assert response.context["counts"] == {
        "pending": 2,
        "in_review": 0,
        "reviewed": 1,
        "flagged": 0,
    }


def test_the_queue_filters_by_park_station_dates_and_status(client, park, other_park, scientist):
    scientist.park_memberships.create(park=other_park)
    here = station_in(park)
    at_station = make_event(park, station=here, start=START)
    make_event(park, start=START + timedelta(days=10))
    abroad = make_event(other_park, start=START)
    client.force_login(scientist)

    def ids(**params: str) -> list[int]:
        return [e.pk for e in client.get(queue_url(**params)).context["page"].object_list]

    assert ids(park=str(other_park.pk)) == [abroad.event.pk]
    assert ids(station=str(here.pk)) == [at_station.event.pk]
    assert set(ids(date_to=(START + timedelta(days=1)).date().isoformat())) == {
        at_station.event.pk,
        abroad.event.pk,
    }
    review.event_claim(event_id=at_station.event.pk, user=scientist)
    assert ids(status="in_review") == [at_station.event.pk]


def test_the_queue_shows_only_the_users_parks(client, park, other_park, scientist):
    make_event(other_park)
    mine = make_event(park)
    client.force_login(scientist)
    events = client.get(queue_url()).context["page"].object_list
    assert [e.pk for e in events] == [mine.event.pk]


@pytest.mark.parametrize("who", ["ranger", "manager"])
def test_rangers_and_managers_do_not_see_the_review(client, park, request, who):
    user = request.getfixturevalue(who)
    work = make_event(park)
    client.force_login(user)
    assert client.get(queue_url()).status_code == 404
    assert client.get(reverse("leopards:event-review", args=[work.event.pk])).status_code == 404


def test_an_event_of_another_park_is_a_404(client, park, outsider):
    work = make_event(park)
    client.force_login(outsider)
    assert client.get(reverse("leopards:event-review", args=[work.event.pk])).status_code == 404
    response = client.post(reverse("leopards:event-claim", args=[work.event.pk]))
    assert response.status_code == 404


def test_the_queue_query_count_does_not_grow_with_events(
    client, park, scientist, django_assert_num_queries
):
    client.force_login(scientist)
    make_event(park, photos=2)
    client.get(queue_url())  # warm the session and content types
    with django_assert_num_queries(8) as few:
        client.get(queue_url())
    for i in range(12):
        make_event(park, photos=3, start=START + timedelta(hours=i + 1))
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(queue_url())
    assert len(response.context["page"].object_list) == 13


def test_claiming_from_the_queue_opens_the_event_and_blocks_a_colleague(client, park, scientist):
    colleague = UserFactory(username="frank", role=Role.SCIENTIST, parks=[park])
    work = make_event(park)
    client.force_login(scientist)
    response = client.post(reverse("leopards:event-claim", args=[work.event.pk]))
    assert response.url == reverse("leopards:event-review", args=[work.event.pk])
    client.force_login(colleague)
    response = client.post(reverse("leopards:event-claim", args=[work.event.pk]), follow=True)
    assert "bob is reviewing this event" in response.content.decode()
    page = client.get(reverse("leopards:event-review", args=[work.event.pk]))
    assert page.context["claimed_by_other"]
    assert "You can look, but not change it." in page.content.decode()


def test_the_review_page_shows_photos_boxes_and_ranked_candidates(
    client, park, scientist, django_assert_max_num_queries
):
    leopards = [known_leopard(park, code=f"LEO-{120 + i}F") for i in range(3)]
    work = make_event(park, photos=2, candidates=leopards)
    reference = Sighting.objects.get(leopard=leopards[0])
    MatchCandidate.objects.filter(leopard=leopards[0]).update(reference=reference)
    review.event_claim(event_id=work.event.pk, user=scientist)
    client.force_login(scientist)
    # 15: opening the event renews its claim (a locked read and a write).
    with django_assert_max_num_queries(15):
        response = client.get(reverse("leopards:event-review", args=[work.event.pk]))
    html = response.content.decode()
    assert html.count('class="candidate"') == 6
    assert "LEO-120F" in html and "90 %" in html
    assert html.count('class="box box-proposed"') == 2
    assert 'data-matches="[[0.2,0.3,0.25,0.35],[0.4,0.5,0.45,0.55]]"' in html
    assert reverse("leopards:sighting-crop", args=[work.sightings[0].pk]) in html


def test_the_review_page_query_count_does_not_grow_with_photos(
    client, park, scientist, django_assert_num_queries, django_assert_max_num_queries
):
    leopards = [known_leopard(park) for _ in range(5)]
    small = make_event(park, photos=1, candidates=leopards)
    large = make_event(park, photos=6, sightings_per_photo=2, candidates=leopards)
    client.force_login(scientist)
    client.get(reverse("leopards:event-review", args=[small.event.pk]))
    with django_assert_max_num_queries(50) as counted:
        client.get(reverse("leopards:event-review", args=[small.event.pk]))
    with django_assert_num_queries(len(counted.captured_queries)):
        client.get(reverse("leopards:event-review", args=[large.event.pk]))


def test_confirming_a_candidate_on_the_page(client, park, scientist):
    leopard = known_leopard(park, code="LEO-120F")
    work = make_event(park, photos=1, candidates=[leopard])
    client.force_login(scientist)
    client.post(reverse("leopards:event-claim", args=[work.event.pk]))
    response = client.post(
        reverse("leopards:sighting-identify", args=[work.sightings[0].pk]),
        {"action": "confirm", "leopard": leopard.pk, "version": 1},
        follow=True,
    )
    assert "Confirmed as LEO-120F." in response.content.decode()
    sighting = Sighting.objects.get(pk=work.sightings[0].pk)
    assert (sighting.status, sighting.leopard) == ("confirmed", leopard)


def test_creating_a_new_individual_on_the_page(client, park, scientist):
    known_leopard(park, code="LEO-120F")
    work = make_event(park, photos=1)
    client.force_login(scientist)
    response = client.post(
        reverse("leopards:sighting-identify", args=[work.sightings[0].pk]),
        {"action": "new", "sex": "male", "version": 1, "observed_age_class": "subadult"},
        follow=True,
    )
    assert "New individual LEO-121M created." in response.content.decode()
    sighting = Sighting.objects.get(pk=work.sightings[0].pk)
    assert (sighting.leopard.code, sighting.observed_age_class) == ("LEO-121M", "subadult")


def test_unidentifiable_and_remove_box_on_the_page(client, park, scientist):
    work = make_event(park, photos=2)
    client.force_login(scientist)
    for sighting, action in zip(work.sightings, ["unidentifiable", "remove"], strict=True):
        client.post(
            reverse("leopards:sighting-identify", args=[sighting.pk]),
            {"action": action, "version": 1},
        )
    statuses = [Sighting.objects.get(pk=s.pk).status for s in work.sightings]
    assert statuses == ["unidentifiable", "rejected"]


def test_recording_flank_and_age_class_on_the_page(client, park, scientist):
    work = make_event(park, photos=1)
    client.force_login(scientist)
    client.post(
        reverse("leopards:sighting-identify", args=[work.sightings[0].pk]),
        {"action": "observe", "version": 1, "flank": "right", "observed_age_class": "kitten"},
    )
    sighting = Sighting.objects.get(pk=work.sightings[0].pk)
    assert (sighting.flank, sighting.observed_age_class) == ("right", "kitten")


def test_a_stale_form_shows_who_changed_it_and_saves_nothing(client, park, scientist):
    colleague = UserFactory(username="frank", role=Role.SCIENTIST, parks=[park])
    one, other = known_leopard(park), known_leopard(park)
    work = make_event(park, photos=1)
    client.force_login(colleague)
    client.post(
        reverse("leopards:sighting-identify", args=[work.sightings[0].pk]),
        {"action": "confirm", "leopard": one.pk, "version": 1},
    )
    client.post(reverse("leopards:event-release", args=[work.event.pk]))
    client.force_login(scientist)
    response = client.post(
        reverse("leopards:sighting-identify", args=[work.sightings[0].pk]),
        {"action": "confirm", "leopard": other.pk, "version": 1},
        follow=True,
    )
    assert "frank changed this sighting at" in response.content.decode()
    assert Sighting.objects.get(pk=work.sightings[0].pk).leopard == one


def test_marking_blank_moves_on_to_the_next_event(client, park, scientist):
    first = make_event(park, start=START)
    second = make_event(park, start=START + timedelta(days=1))
    client.force_login(scientist)
    response = client.post(
        reverse("leopards:event-classify", args=[first.event.pk]),
        {"content": "blank", "version": 1},
    )
    assert response.url == reverse("leopards:event-review", args=[second.event.pk])
    assert Event.objects.get(pk=first.event.pk).content == "blank"
    # The next event is claimed when its page opens, not in advance.
    assert Event.objects.get(pk=second.event.pk).claimed_by is None
    client.get(response.url)
    assert Event.objects.get(pk=second.event.pk).claimed_by == scientist


def test_finishing_leaves_the_next_event_waiting_for_whoever_opens_it(client, park, scientist):
    colleague = UserFactory(username="frank", role=Role.SCIENTIST, parks=[park])
    first = make_event(park, start=START, sightings_per_photo=0)
    second = make_event(park, start=START + timedelta(days=1))
    client.force_login(scientist)
    client.get(reverse("leopards:event-review", args=[first.event.pk]))
    response = client.post(reverse("leopards:event-finish", args=[first.event.pk]), {"version": 1})
    assert response.url == reverse("leopards:event-review", args=[second.event.pk])
    # The scientist goes back to the queue instead: the colleague opens it and gets it.
    client.get(queue_url())
    assert Event.objects.get(pk=second.event.pk).status == Event.Status.PENDING
    client.force_login(colleague)
    page = client.get(response.url)
    assert not page.context["claimed_by_other"] and page.context["claimed_by_me"]
    assert Event.objects.get(pk=second.event.pk).claimed_by == colleague


def test_opening_an_event_a_colleague_holds_does_not_take_it(client, park, scientist):
    colleague = UserFactory(username="frank", role=Role.SCIENTIST, parks=[park])
    work = make_event(park)
    review.event_claim(event_id=work.event.pk, user=colleague)
    client.force_login(scientist)
    page = client.get(reverse("leopards:event-review", args=[work.event.pk]))
    assert page.context["claimed_by_other"]
    assert Event.objects.get(pk=work.event.pk).claimed_by == colleague


def _claim_stamp(html: str) -> str:
    return html.split('data-claimed-at="', 1)[1].split('"', 1)[0]


def test_leaving_an_event_untouched_gives_its_claim_back(client, park, scientist):
    work = make_event(park)
    client.force_login(scientist)
    html = client.get(reverse("leopards:event-review", args=[work.event.pk])).content.decode()
    assert Event.objects.get(pk=work.event.pk).status == Event.Status.IN_REVIEW
    client.post(
        reverse("leopards:event-release", args=[work.event.pk]),
        {"claimed_at": _claim_stamp(html)},
    )
    event = Event.objects.get(pk=work.event.pk)
    assert (event.claimed_by, event.status) == (None, Event.Status.PENDING)


def test_leaving_releases_nothing_that_was_saved_or_opened_again_since(client, park, scientist):
    leopard = known_leopard(park, code="LEO-120F")
    work = make_event(park, photos=1, candidates=[leopard])
    client.force_login(scientist)
    url = reverse("leopards:event-review", args=[work.event.pk])
    first_visit = _claim_stamp(client.get(url).content.decode())
    client.post(
        reverse("leopards:sighting-identify", args=[work.sightings[0].pk]),
        {"action": "confirm", "leopard": leopard.pk, "version": 1},
    )
    client.post(
        reverse("leopards:event-release", args=[work.event.pk]), {"claimed_at": first_visit}
    )
    assert Event.objects.get(pk=work.event.pk).claimed_by == scientist
    # A reload: the old page's leaving arrives after the new page opened.
    second_visit = _claim_stamp(client.get(url).content.decode())
    assert second_visit != first_visit
    client.post(
        reverse("leopards:event-release", args=[work.event.pk]), {"claimed_at": first_visit}
    )
    assert Event.objects.get(pk=work.event.pk).claimed_by == scientist


def test_a_release_with_a_garbled_claim_time_is_refused(client, park, scientist):
    work = make_event(park)
    client.force_login(scientist)
    client.get(reverse("leopards:event-review", args=[work.event.pk]))
    for stamp in ("yesterday", "2026-01-01T10:00:00"):
        response = client.post(
            reverse("leopards:event-release", args=[work.event.pk]), {"claimed_at": stamp}
        )
        assert response.status_code == 400
    assert Event.objects.get(pk=work.event.pk).claimed_by == scientist


def test_other_species_from_the_admin_list(client, park, scientist):
    from leopards.models import Species

    boar = Species.objects.get(name="Wild boar")
    work = make_event(park, sightings_per_photo=0)
    client.force_login(scientist)
    client.post(
        reverse("leopards:event-classify", args=[work.event.pk]),
        {"content": "other_species", "species": boar.pk, "version": 1},
    )
    assert EventReview.objects.get(event=work.event).species == boar


def test_skip_releases_the_event_and_opens_the_next(client, park, scientist):
    first = make_event(park, start=START)
    second = make_event(park, start=START + timedelta(days=1))
    client.force_login(scientist)
    client.post(reverse("leopards:event-claim", args=[first.event.pk]))
    response = client.post(reverse("leopards:event-skip", args=[first.event.pk]))
    assert response.url == reverse("leopards:event-review", args=[second.event.pk])
    assert Event.objects.get(pk=first.event.pk).status == Event.Status.PENDING


def test_finishing_with_undecided_boxes_says_how_many(client, park, scientist):
    work = make_event(park, photos=2)
    client.force_login(scientist)
    response = client.post(
        reverse("leopards:event-finish", args=[work.event.pk]), {"version": 1}, follow=True
    )
    assert "2 sightings still need a decision" in response.content.decode()


def test_mother_and_kitten_seen_together(client, park, scientist):
    mother = known_leopard(park, code="LEO-101F", sex="female")
    kitten = known_leopard(park, code="LEO-140U")
    client.force_login(scientist)
    client.post(
        reverse("leopards:mother-link"),
        {"mother": mother.pk, "kitten": kitten.pk, "next": "/review/"},
    )
    kitten.refresh_from_db()
    assert kitten.mother is None  # without the kitten's version nothing is written
    client.post(
        reverse("leopards:mother-link"),
        {"mother": mother.pk, "kitten": kitten.pk, "version": 1, "next": "/review/"},
    )
    kitten.refresh_from_db()
    assert kitten.mother == mother
    change = CatalogueChange.objects.get(kind="mother")
    assert change.user == scientist


def test_people_photos_are_blurred_with_a_warning(client, park, scientist):
    from exchange.models import DetectorResult

    work = make_event(park, photos=1)
    DetectorResult.objects.create(photo=work.photos[0], threshold=0.2, shows_person=True)
    client.force_login(scientist)
    html = client.get(reverse("leopards:event-review", args=[work.event.pk])).content.decode()
    assert "photo-private" in html
    assert "The detector found a person in this photo" in html


def test_a_crop_is_served_to_members_and_reference_crops_to_reviewers(
    client, park, other_park, scientist, ranger, settings
):
    import io

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from PIL import Image

    from tests.factories import jpeg_bytes

    work = make_event(park, photos=1)
    photo = work.photos[0]
    default_storage.save(photo.file.name, ContentFile(jpeg_bytes(size=(640, 480))))
    client.force_login(scientist)
    response = client.get(reverse("leopards:sighting-crop", args=[work.sightings[0].pk]))
    assert response.status_code == 200
    crop = Image.open(io.BytesIO(response.content))
    assert crop.size == (224, 192)  # 0.35 x 0.4 of 640 x 480
    abroad = make_event(other_park, photos=1)
    url = reverse("leopards:sighting-crop", args=[abroad.sightings[0].pk])
    assert client.get(url).status_code == 404  # proposed, and not in bob's parks
    client.force_login(ranger)
    assert client.get(url).status_code == 404


def test_confirming_to_an_individual_neither_visible_nor_a_candidate_is_a_404(
    client, park, other_park, scientist
):
    foreign = known_leopard(other_park, code="LEO-900M")
    work = make_event(park, photos=1)
    client.force_login(scientist)
    response = client.post(
        reverse("leopards:sighting-identify", args=[work.sightings[0].pk]),
        {"action": "confirm", "leopard": foreign.pk, "version": 1},
    )
    assert response.status_code == 404
    assert Sighting.objects.get(pk=work.sightings[0].pk).status == "proposed"


def test_a_candidate_from_a_park_across_the_border_can_be_confirmed(
    client, park, other_park, scientist
):
    crosser = known_leopard(other_park, code="LEO-900M")
    work = make_event(park, photos=1, candidates=[crosser])
    client.force_login(scientist)
    # Named by the candidate's own id: the page does not know the individual's.
    candidate = MatchCandidate.objects.get(sighting=work.sightings[0])
    client.post(
        reverse("leopards:sighting-identify", args=[work.sightings[0].pk]),
        {"action": "confirm", "candidate": candidate.pk, "version": 1},
    )
    assert Sighting.objects.get(pk=work.sightings[0].pk).leopard == crosser
    page = client.get(reverse("leopards:leopard-detail", args=["LEO-900M"]))
    # Its sighting in the other park stays out of sight, and out of the counts.
    assert len(page.context["info"].sightings) == 1


def test_the_overview_tells_reviewers_how_many_events_wait(client, park, scientist, ranger):
    make_event(park, photos=1)
    make_event(park, photos=1, start=START + timedelta(days=2))
    client.force_login(scientist)
    html = client.get(reverse("home")).content.decode()
    assert "2 events wait for review." in html
    assert reverse("leopards:review-queue") in html
    client.force_login(ranger)
    assert "wait for review" not in client.get(reverse("home")).content.decode()
