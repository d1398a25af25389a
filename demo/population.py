"""The demo's leopards as a simulated population with a known density and survival.

Each park's independent leopards have activity centres from a homogeneous Poisson
process of density D over the park's habitat mask (the mask the density fit uses: a
buffer around the cameras clipped to the park). Between years each survives with
probability phi, and Poisson(D x area x (1 - phi)) recruits settle at centres drawn
the same way, so the population of every year is again a Poisson process of density
D. Recruits were born two springs before and, when a female of the park was alive
then, followed her as kittens for their first one and a half years. Each night a
camera worked, it photographs an independent leopard with the halfnormal probability
g0 exp(-d^2 / 2 sigma^2) of secr's proximity detector, d the distance from the
leopard's centre. Dependent kittens are photographed behind their mother.

No kitten is born in the springs of SURVEY_YEAR - 1 and SURVEY_YEAR, so the survey
year holds independent leopards only, as the density model assumes.
"""

from dataclasses import dataclass, field
from datetime import date

import numpy as np

SURVEY_YEAR = 2025


@dataclass(frozen=True)
class Truth:
    """What the demo's detections were drawn from, to check the estimates against."""

    density_per_100km2: float
    g0: float  # detection probability per night at the activity centre
    sigma_m: float  # halfnormal spatial scale, metres
    phi: float  # annual survival of independent leopards

    @property
    def density_per_ha(self) -> float:
        return self.density_per_100km2 / 1e4


@dataclass
class Animal:
    key: int
    sex: str  # "F" or "M"
    birth: date
    centre: np.ndarray  # metres
    first_year: int  # first year independent in the park
    last_year: int  # last year alive (the last simulated year for survivors)
    mother: int | None = None
    detections: list[tuple[int, int]] = field(default_factory=list)  # (day, trap)

    def alive_in(self, year: int) -> bool:
        return self.first_year <= year <= self.last_year


def _centres(points: np.ndarray, spacing: float, count: int, rng: np.random.Generator):
    """Draw `count` points uniformly over the mask's square cells."""
    cells = points[rng.integers(len(points), size=count)]
    return cells + rng.uniform(-spacing / 2, spacing / 2, size=(count, 2))


def simulate_population(
    *,
    mask_points: np.ndarray,
    spacing: float,
    truth: Truth,
    years: list[int],
    rng: np.random.Generator,
) -> list[Animal]:
    """Return every independent leopard that lived in the mask in `years`."""
    area_ha = len(mask_points) * spacing**2 / 1e4
    expected = truth.density_per_ha * area_ha
    animals: list[Animal] = []

    def settle(count: int, year: int, born: list[date]) -> None:
        for centre, birth in zip(_centres(mask_points, spacing, count, rng), born, strict=True):
            animals.append(
                Animal(
                    key=len(animals),
                    sex="F" if rng.random() < 0.5 else "M",
                    birth=birth,
                    centre=centre,
                    first_year=year,
                    last_year=years[-1],
                )
            )

    first = int(rng.poisson(expected))
    settle(first, years[0], [date(int(rng.integers(2011, 2019)), 5, 1) for _ in range(first)])
    for year in years[1:]:
        for animal in animals:
            alive = animal.last_year == years[-1] and animal.first_year < year
            if alive and rng.random() >= truth.phi:
                animal.last_year = year - 1
        recruits = int(rng.poisson(expected * (1 - truth.phi)))
        births = [date(year - 2, int(rng.integers(4, 7)), 1) for _ in range(recruits)]
        settle(recruits, year, births)
        # A recruit born while a female of the park was alive followed her as a kitten,
        # unless no kitten was born that spring (see SURVEY_YEAR).
        mothers = _mothers(animals, year - 2, years[0], alive_in=year - 1)
        for recruit in animals[-recruits:] if recruits else []:
            if mothers and recruit.birth.year < SURVEY_YEAR - 1 and rng.random() < 0.8:
                recruit.mother = int(rng.choice([m.key for m in mothers]))
    # The last spring's cubs: dependent until after the simulated years, so seen only
    # behind their mothers and never part of the independent population.
    last = years[-1]
    for mother in _mothers(animals, last, years[0], alive_in=last):
        if rng.random() < 0.4:
            animals.append(
                Animal(
                    key=len(animals),
                    sex="F" if rng.random() < 0.5 else "M",
                    birth=date(last, int(rng.integers(4, 6)), 1),
                    centre=mother.centre,
                    first_year=last + 2,
                    last_year=last,
                    mother=mother.key,
                )
            )
    return animals


def _mothers(
    animals: list[Animal], birth_year: int, first_year: int, *, alive_in: int
) -> list[Animal]:
    """Return the females at least three years old in a spring of births, alive later."""
    return [
        a
        for a in animals
        if a.sex == "F"
        and a.last_year >= alive_in
        and (a.first_year <= birth_year or a.first_year == first_year)
        and a.birth.year <= birth_year - 3
    ]


def detection_probability(centres: np.ndarray, traps: np.ndarray, truth: Truth) -> np.ndarray:
    """Return the halfnormal probability per night of each centre at each trap (N x K)."""
    d2 = ((centres[:, None, :] - traps[None, :, :]) ** 2).sum(axis=2)
    return truth.g0 * np.exp(-d2 / (2 * truth.sigma_m**2))


def simulate_detections(
    animals: list[Animal],
    *,
    traps: np.ndarray,
    usage: np.ndarray,
    first_day: date,
    truth: Truth,
    rng: np.random.Generator,
) -> None:
    """Fill each animal's detections (day ordinal, trap) from the cameras' working nights.

    `usage` is K x days: the nights each trap worked on each day from `first_day` (0 or
    1 for one camera per station). A trap that worked u nights detects with probability
    1 - (1 - g)^u, as secr's proximity detector with usage.
    """
    if not animals:
        return
    start = first_day.toordinal()
    g = detection_probability(np.array([a.centre for a in animals]), traps, truth)
    for index, animal in enumerate(animals):
        first = max(0, date(animal.first_year, 1, 1).toordinal() - start)
        last = min(usage.shape[1], date(animal.last_year, 12, 31).toordinal() - start + 1)
        if last <= first:
            continue
        worked = usage[:, first:last]
        p = 1 - (1 - g[index])[:, None] ** worked
        trap, day = np.nonzero(rng.random(p.shape) < p)
        animal.detections = sorted(zip((day + first + start).tolist(), trap.tolist(),
                                       strict=True))  # fmt: skip


def kitten_detections(
    animal: Animal, mother: Animal | None, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """Return the mother's detections that show this recruit as her kitten behind her.

    A kitten leaves the den at about four months and follows its mother until the end of
    the year before it settles; it is in four of five of her photos.
    """
    if mother is None:
        return []
    out_of_den = date.fromordinal(animal.birth.toordinal() + 120).toordinal()
    settles = date(animal.first_year, 1, 1).toordinal()
    return [
        (day, trap)
        for day, trap in mother.detections
        if out_of_den <= day < settles and rng.random() < 0.8
    ]


def expected_animals(truth: Truth, mask_points: np.ndarray, spacing: float) -> float:
    """Return the expected number of activity centres in the mask: D x area."""
    return truth.density_per_ha * len(mask_points) * spacing**2 / 1e4
