"""Reads of the catalogue: individuals a user may see, one individual's page, flank pairs."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    Count,
    Exists,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
)
from django.utils import timezone

from accounts.privacy import generalise
from leopards.models import (
    AgeClass,
    CatalogueChange,
    Flank,
    Leopard,
    LeopardAlias,
    MatchCandidate,
    Sighting,
)
from traps.local_dates import LocalDate, local_date
from traps.models import Park
from traps.selectors import parks_for_user

CONFIRMED = Sighting.Status.CONFIRMED
_PARK = "photo__deployment__station__park"


def _park_ids(user: AbstractBaseUser | AnonymousUser) -> list[int]:
    # The ids themselves rather than a subquery: the park test sits at the bottom of
    # the deepest queries here (changes, old codes, searches), and SQLite's parser
    # has a fixed nesting limit. One query per request, kept on the user.
    cached = getattr(user, "_catalogue_park_ids", None)
    if cached is None:
        cached = list(parks_for_user(user).order_by("pk").values_list("pk", flat=True))
        if user.is_authenticated:
            user._catalogue_park_ids = cached
    return cached


def visible_sightings(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Sighting]:
    """Return the sightings in the user's parks."""
    return Sighting.objects.filter(**{f"{_PARK}__in": _park_ids(user)})


def _sees_every_park(user: AbstractBaseUser | AnonymousUser) -> bool:
    cached = getattr(user, "_sees_every_park", None)
    if cached is None:
        cached = len(_park_ids(user)) == Park.objects.count()
        user._sees_every_park = cached
    return cached


def leopards_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Leopard]:
    """Return the individuals seen in one of the user's parks (merged records excluded)."""
    if user.is_authenticated and _sees_every_park(user):
        # Without a park to rule out, the check needs no join through photos and
        # stations: the sighting index on the individual answers it per row.
        seen_here = Sighting.objects.filter(leopard=OuterRef("pk"))
    else:
        seen_here = visible_sightings(user).filter(leopard=OuterRef("pk"))
    return Leopard.objects.filter(Exists(seen_here), merged_into__isnull=True)


@dataclass(frozen=True)
class CatalogueFilters:
    q: str = ""
    park_id: int | None = None
    sex: str = ""
    age_class: str = ""
    status: str = ""
    seen_since: date | None = None
    provisional: bool = False


def _age_filter(age_class: str, today: date) -> Q:
    subadult_from = today - relativedelta(months=settings.AGE_CLASS_SUBADULT_FROM_MONTHS)
    adult_from = today - relativedelta(months=settings.AGE_CLASS_ADULT_FROM_MONTHS)
    if age_class == AgeClass.KITTEN:
        return Q(birth_date__gt=subadult_from, birth_date__lte=today)
    if age_class == AgeClass.SUBADULT:
        return Q(birth_date__gt=adult_from, birth_date__lte=subadult_from)
    if age_class == AgeClass.ADULT:
        return Q(birth_date__lte=adult_from)
    return Q(birth_date__isnull=True) | Q(birth_date__gt=today)


def leopard_catalogue(
    user: AbstractBaseUser | AnonymousUser, filters: CatalogueFilters = CatalogueFilters()
) -> QuerySet[Leopard]:
    """Return the user's individuals with sighting counts, flanks, first and last seen."""
    leopards = leopards_for_user(user)
    if filters.q:
        q = filters.q.strip()
        old_codes = aliases_for_user(user).filter(leopard=OuterRef("pk"), code__icontains=q)
        leopards = leopards.filter(
            Q(code__icontains=q) | Q(name__icontains=q) | Q(Exists(old_codes))
        )
    if filters.park_id:
        leopards = leopards.filter(
            Exists(
                visible_sightings(user).filter(
                    leopard=OuterRef("pk"), **{f"{_PARK}_id": filters.park_id}
                )
            )
        )
    if filters.sex:
        leopards = leopards.filter(sex=filters.sex)
    if filters.status:
        leopards = leopards.filter(status=filters.status)
    if filters.age_class:
        leopards = leopards.filter(_age_filter(filters.age_class, timezone.localdate()))
    if filters.seen_since:
        leopards = leopards.filter(
            Exists(
                visible_sightings(user).filter(
                    _seen_since(user, filters.seen_since),
                    leopard=OuterRef("pk"),
                    status=CONFIRMED,
                )
            )
        )
    if filters.provisional:
        # Flanks known in the user's parks only: a flank seen in another park would
        # tell that the individual was photographed there.
        confirmed = visible_sightings(user).filter(leopard=OuterRef("pk"), status=CONFIRMED)
        leopards = leopards.filter(
            ~Exists(confirmed.filter(flank=Flank.LEFT))
            | ~Exists(confirmed.filter(flank=Flank.RIGHT))
        )
    return leopards.select_related("mother").order_by("code")


def _park_zones(user: AbstractBaseUser | AnonymousUser) -> dict[str, list[int]]:
    cached = getattr(user, "_catalogue_park_zones", None)
    if cached is None:
        cached = {}
        parks = Park.objects.filter(pk__in=_park_ids(user)).order_by("pk")
        for pk, zone in parks.values_list("pk", "time_zone"):
            cached.setdefault(zone, []).append(pk)
        if user.is_authenticated:
            user._catalogue_park_zones = cached
    return cached


def catalogue_time_zone(user: AbstractBaseUser | AnonymousUser) -> str:
    """Return the one time zone of the user's parks, or "" when they lie in several."""
    zones = _park_zones(user)
    return next(iter(zones)) if len(zones) == 1 else ""


def _seen_since(user: AbstractBaseUser | AnonymousUser, day: date) -> Q:
    # The day starts at local midnight in each park's own time zone, as its sightings show.
    since = Q(pk__in=[])
    for zone, ids in _park_zones(user).items():
        start = datetime.combine(day, time.min, tzinfo=ZoneInfo(zone))
        since |= Q(**{f"{_PARK}_id__in": ids, "photo__taken_at__gte": start})
    return since


def catalogue_figures(user: AbstractBaseUser | AnonymousUser, leopards: list[Leopard]) -> None:
    """Set sighting counts, first and last seen, flank counts and the mother's code on a
    page of individuals, from the sightings in the user's parks only.

    One aggregation over the sightings of these individuals only: a GROUP BY over every
    sighting of the catalogue would cost the same for a page of 50 as for all of them.
    First and last seen are local dates in the zone of the park where they were taken.
    """
    # Mothers ride along: one seen only in other parks does not exist for this user,
    # so the page shows no code for her (a row here means a sighting in the user's parks).
    mother_ids = {x.mother_id for x in leopards if x.mother_id}
    confirmed = Q(status=CONFIRMED)
    rows = (
        visible_sightings(user)
        .filter(leopard__in={x.pk for x in leopards} | mother_ids)
        .order_by()
        # Per park as well: a day is a day in the park's time zone, so the earliest moment
        # in each park is what a first-seen date is taken from.
        .values("leopard_id", f"{_PARK}__time_zone")
        .annotate(
            sighting_count=Count("pk", filter=confirmed),
            first_seen=Min("photo__taken_at", filter=confirmed),
            last_seen=Max("photo__taken_at", filter=confirmed),
            left_count=Count("pk", filter=confirmed & Q(flank=Flank.LEFT)),
            right_count=Count("pk", filter=confirmed & Q(flank=Flank.RIGHT)),
        )
    )
    figures = _per_leopard(rows)
    old_codes: dict[int, list[str]] = {}
    for leopard_id, code in (
        aliases_for_user(user)
        .filter(leopard__in=[x.pk for x in leopards])
        .order_by("code")
        .values_list("leopard_id", "code")
    ):
        old_codes.setdefault(leopard_id, []).append(code)
    empty = {
        "sighting_count": 0,
        "first_seen": None,
        "last_seen": None,
        "first_seen_at": None,
        "last_seen_at": None,
        "left_count": 0,
        "right_count": 0,
    }
    for leopard in leopards:
        for name, value in figures.get(leopard.pk, empty).items():
            setattr(leopard, name, value)
        leopard.alias_codes = old_codes.get(leopard.pk, [])
        mother = leopard.mother if leopard.mother_id in figures else None
        leopard.mother_code = mother.code if mother and not mother.merged_into_id else None


def _per_leopard(rows: Iterable[dict]) -> dict[int, dict]:
    """Add up per-park figures of each individual; first and last seen become local dates."""
    figures: dict[int, dict] = {}
    firsts: dict[int, tuple] = {}
    lasts: dict[int, tuple] = {}
    for row in rows:
        leopard_id, zone = row.pop("leopard_id"), row.pop(f"{_PARK}__time_zone")
        first, last = row.pop("first_seen"), row.pop("last_seen")
        total = figures.setdefault(leopard_id, dict.fromkeys(row, 0))
        for name, value in row.items():
            total[name] += value
        if first is not None and (leopard_id not in firsts or first < firsts[leopard_id][0]):
            firsts[leopard_id] = (first, zone)
        if last is not None and (leopard_id not in lasts or last > lasts[leopard_id][0]):
            lasts[leopard_id] = (last, zone)
    for leopard_id, total in figures.items():
        first, last = firsts.get(leopard_id), lasts.get(leopard_id)
        total["first_seen_at"], total["last_seen_at"] = first and first[0], last and last[0]
        total["first_seen"] = local_date(*first) if first else None
        total["last_seen"] = local_date(*last) if last else None
    return figures


@dataclass(frozen=True)
class Lookup:
    leopard: Leopard | None
    redirect_to: str | None = None


def leopard_lookup(user: AbstractBaseUser | AnonymousUser, code: str) -> Lookup:
    """Find an individual by code; an old code (merged away) points to its record now."""
    leopard = Leopard.objects.filter(code=code).first()
    if leopard is not None and leopard.merged_into_id is None:
        visible = leopards_for_user(user).filter(pk=leopard.pk).exists()
        return Lookup(leopard if visible else None)
    alias = aliases_for_user(user).filter(code=code).select_related("leopard").first()
    if alias is None or not leopards_for_user(user).filter(pk=alias.leopard_id).exists():
        return Lookup(None)
    return Lookup(None, redirect_to=alias.leopard.code)


@dataclass
class StationSeen:
    station_id: int
    code: str
    park: str
    latitude: float
    longitude: float
    exact: bool
    count: int
    last_seen: LocalDate | None
    precision: float = 0.0


@dataclass
class LeopardPage:
    leopard: Leopard
    sightings: list[Sighting]
    references: dict[str, Sighting]
    stations: list[StationSeen]
    mother: Leopard | None
    offspring: list[Leopard]
    first_seen: LocalDate | None
    last_seen: LocalDate | None
    age_class_now: str
    flanks: set[str]
    provisional: bool
    changes: list[CatalogueChange]
    aliases: list[str]
    flank_pairs: list[tuple[Sighting, Sighting]] = field(default_factory=list)
    # GeoJSON outlines of the parks it was seen in, for the map.
    boundaries: list[dict] = field(default_factory=list)
    # The one time zone of the parks the sightings are in ("" for several): the times
    # are local to each sighting's park, and a table names the zone once when it can.
    time_zone: str = ""


def _reference_rank(sighting: Sighting) -> tuple:
    area = (sighting.bbox_w or 0) * (sighting.bbox_h or 0)
    return (sighting.feature_count, area, sighting.pk)


def leopard_page(user: AbstractBaseUser | AnonymousUser, leopard: Leopard) -> LeopardPage:
    """Return everything an individual's page shows, scoped to the user's parks."""
    # Sightings in other parks do not exist for this user: not in the figures, the
    # flanks, first and last seen, nor as a count of what is hidden.
    sightings = list(
        visible_sightings(user)
        .filter(leopard=leopard, status=CONFIRMED)
        .select_related("photo__deployment__station__park", "identified_by")
        .order_by("photo__taken_at", "pk")
    )
    references: dict[str, Sighting] = {}
    for flank in (Flank.LEFT, Flank.RIGHT, Flank.FRONT):
        of_flank = [s for s in sightings if s.flank == flank]
        if of_flank:
            references[flank] = max(of_flank, key=_reference_rank)
    by_station: dict[int, StationSeen] = {}
    counts = Counter(s.photo.deployment.station_id for s in sightings)
    for s in sightings:
        station = s.photo.deployment.station
        if station.pk not in by_station:
            # Where an individual was seen, with how often and when, is an aggregate of
            # its sightings: 0.1 degree cells for everyone (issue 8), as on census maps.
            where = generalise(station.latitude, station.longitude)
            by_station[station.pk] = StationSeen(
                station_id=station.pk,
                code=station.code,
                park=station.park.local_name,
                latitude=where.latitude,
                longitude=where.longitude,
                exact=where.exact,
                precision=where.precision,
                count=counts[station.pk],
                last_seen=local_date(s.photo.taken_at, station.park.time_zone),
            )
        elif s.photo.taken_at:
            by_station[station.pk].last_seen = local_date(s.photo.taken_at, station.park.time_zone)
    visible = leopards_for_user(user)
    mother = visible.filter(pk=leopard.mother_id).first() if leopard.mother_id else None
    offspring = list(visible.filter(mother=leopard).order_by("birth_date", "code"))
    flanks = {s.flank for s in sightings if s.flank in (Flank.LEFT, Flank.RIGHT)}
    changes = list(
        catalogue_changes_for_user(user)
        .filter(leopards=leopard)
        .select_related("user", "undoes")
        .prefetch_related("leopards")
        .annotate(undone=Exists(CatalogueChange.objects.filter(undoes=OuterRef("pk"))))
        .order_by("-created_at", "-pk")[:200]
    )
    dated = [
        (s.photo.taken_at, s.photo.deployment.station.park.time_zone)
        for s in sightings
        if s.photo.taken_at
    ]
    page = LeopardPage(
        leopard=leopard,
        sightings=sightings,
        references=references,
        stations=sorted(by_station.values(), key=lambda x: (x.park, x.code)),
        mother=mother,
        offspring=offspring,
        first_seen=local_date(*min(dated)) if dated else None,
        last_seen=local_date(*max(dated)) if dated else None,
        age_class_now=leopard.age_class_on(timezone.localdate()),
        flanks=flanks,
        provisional=len(flanks) < 2,
        changes=changes,
        aliases=list(
            aliases_for_user(user)
            .filter(leopard=leopard)
            .order_by("code")
            .values_list("code", flat=True)
        ),
        boundaries=list(
            {
                s.photo.deployment.station.park_id: s.photo.deployment.station.park.boundary
                for s in sightings
                if s.photo.deployment.station.park.boundary
            }.values()
        ),
    )
    zones = {s.photo.deployment.station.park.time_zone for s in sightings}
    if len(zones) == 1:
        (page.time_zone,) = zones
    if len(flanks) == 1:
        page.flank_pairs = flank_pairs(user, leopard, sightings)
    return page


def flank_pairs(
    user: AbstractBaseUser | AnonymousUser, leopard: Leopard, sightings: list[Sighting]
) -> list[tuple[Sighting, Sighting]]:
    """Return photo pairs at one station and passage that show this one-flank record and
    a record known only from the other flank: the evidence a flank link needs."""
    mine = [s for s in sightings if s.flank in (Flank.LEFT, Flank.RIGHT) and s.photo.taken_at]
    if not mine:
        return []
    other_flank = Flank.RIGHT if mine[0].flank == Flank.LEFT else Flank.LEFT
    window = timedelta(minutes=settings.INDEPENDENCE_INTERVAL_MINUTES)
    near = Q()
    for s in mine[:200]:
        near |= Q(
            photo__deployment__station_id=s.photo.deployment.station_id,
            photo__taken_at__gte=s.photo.taken_at - window,
            photo__taken_at__lte=s.photo.taken_at + window,
        )
    # A candidate partner must itself be known from the other flank only.
    partner_has_mine = Sighting.objects.filter(
        leopard=OuterRef("leopard"), status=CONFIRMED, flank=mine[0].flank
    )
    others = (
        visible_sightings(user)
        .filter(near, status=CONFIRMED, flank=other_flank, leopard__merged_into__isnull=True)
        .exclude(leopard=leopard)
        .exclude(Exists(partner_has_mine))
        .select_related("leopard", "photo__deployment__station__park")
    )
    pairs = []
    for other in others:
        for s in mine:
            if (
                s.photo.deployment.station_id == other.photo.deployment.station_id
                and abs(s.photo.taken_at - other.photo.taken_at) <= window
            ):
                pairs.append((s, other) if s.flank == Flank.LEFT else (other, s))
                break
    return pairs


def leopards_choices(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Leopard]:
    """Return the user's individuals for a pick list (merge, split, mother)."""
    return leopards_for_user(user).only("pk", "code", "name", "sex").order_by("code")


def _in_view(user: AbstractBaseUser | AnonymousUser, leopard: str = "") -> Q:
    """Match rows whose `leopard` (the row itself when empty) is an individual the user
    sees, or one merged into it."""
    # This test sits under three more levels in a catalogue search by old code, and
    # SQLite's parser gives up on deep nesting ("parser stack overflow"): it reads
    # the row's own individual through a join rather than through IN over a
    # queryset of individuals, which would add a level.
    prefix = f"{leopard}__" if leopard else ""
    own_id = f"{leopard}_id" if leopard else "pk"
    seen_here = visible_sightings(user)
    # A merged record has no sightings left; its code lives on as an alias of the
    # record it went into (aliases follow later merges), which tells where it went.
    went_into_visible = LeopardAlias.objects.filter(
        Exists(seen_here.filter(leopard=OuterRef("leopard_id"))),
        code=OuterRef(f"{prefix}code"),
        leopard__merged_into__isnull=True,
    )
    return Q(
        Exists(seen_here.filter(leopard=OuterRef(own_id))),
        **{f"{prefix}merged_into__isnull": True},
    ) | Q(Exists(went_into_visible), **{f"{prefix}merged_into__isnull": False})


def _change_inside_parks(user: AbstractBaseUser | AnonymousUser, change: str) -> Q:
    """Match rows whose `change` touched only individuals and sightings the user sees."""
    links = CatalogueChange.leopards.through.objects.filter(cataloguechange=OuterRef(change))
    sightings = CatalogueChange.sightings.through.objects.filter(cataloguechange=OuterRef(change))
    return Q(
        Exists(links),
        ~Exists(links.exclude(_in_view(user, "leopard"))),
        ~Exists(sightings.exclude(**{f"sighting__{_PARK}__in": _park_ids(user)})),
    )


def catalogue_changes_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[CatalogueChange]:
    """Return the catalogue changes that lie wholly inside the user's parks.

    A change is listed when it touched at least one individual, every individual it
    touched is one the user sees, and every sighting it touched is in the user's
    parks. A change that reaches into another park is left out whole rather than
    redacted: its reason and its before and after states name that park's records,
    and nothing in it may tell that they exist.
    """
    if user.is_authenticated and _sees_every_park(user):
        links = CatalogueChange.leopards.through.objects.filter(cataloguechange=OuterRef("pk"))
        return CatalogueChange.objects.filter(Exists(links))
    return CatalogueChange.objects.filter(_change_inside_parks(user, "pk"))


def aliases_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[LeopardAlias]:
    """Return the old codes the user may see: those left by merges inside their parks.

    An individual known only in another park and merged into one the user sees
    would otherwise show up as an old code, and be found by it.
    """
    if user.is_authenticated and _sees_every_park(user):
        return LeopardAlias.objects.all()
    # An alias without its change (entered by hand, or its change removed) tells
    # nothing of where the merge happened; it stays with the record. The change's
    # test is read on the alias row itself, not through a subquery of changes:
    # one level less for SQLite's parser.
    return LeopardAlias.objects.filter(
        Q(change__isnull=True) | _change_inside_parks(user, "change_id")
    )


def recent_changes(
    user: AbstractBaseUser | AnonymousUser, leopard: Leopard
) -> QuerySet[CatalogueChange]:
    """Return the audit trail of one individual that the user may read, newest first."""
    return (
        catalogue_changes_for_user(user)
        .filter(leopards=leopard)
        .select_related("user")
        .prefetch_related(Prefetch("leopards", queryset=Leopard.objects.only("pk", "code")))
        .order_by("-created_at", "-pk")
    )


def candidates_disclose(
    user: AbstractBaseUser | AnonymousUser, candidates: Iterable[MatchCandidate]
) -> None:
    """Mark what the user may learn of each ranked candidate; every page and answer obeys it.

    The matcher ranks the whole catalogue, across the border. A candidate whose individual
    the user does not see (known only from other parks) stays "an individual from another
    park": no code, id, name or link (``disclosed`` is False). Its reference crop, and the
    matched spots drawn on it, are shown only when that reference sighting is in the user's
    parks (``reference_shown``), the rule of the photo itself. No park shares its
    identifications with another, so nothing more is told. A candidate left unmarked counts
    as undisclosed.
    """
    candidates = list(candidates)
    if not candidates:
        return
    leopard_ids = {c.leopard_id for c in candidates}
    leopard_ids |= {c.leopard.merged_into_id for c in candidates if c.leopard.merged_into_id}
    seen = set(
        Leopard.objects.filter(_in_view(user), pk__in=leopard_ids).values_list("pk", flat=True)
    )
    reference_ids = {c.reference_id for c in candidates if c.reference_id}
    references = set(
        visible_sightings(user).filter(pk__in=reference_ids).values_list("pk", flat=True)
    )
    for candidate in candidates:
        survivor = candidate.leopard.merged_into_id
        candidate.disclosed = candidate.leopard_id in seen and (
            survivor is None or survivor in seen
        )
        candidate.reference_shown = candidate.reference_id in references
