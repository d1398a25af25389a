"""Taxa read in the reader's language: the review's species list and the ranks of the taxa table."""

import pytest
from django.utils import translation

from leopards.models import Species


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "tiger", "rank"),
    [
        ("en", "Amur tiger", "subspecies"),
        ("ru", "амурский тигр", "подвид"),
        ("zh-hans", "东北虎", "亚种"),
    ],
)
def test_the_default_species_and_their_ranks_are_named_in_each_language(language, tiger, rank):
    species = Species.objects.get(scientific_name="Panthera tigris altaica")
    with translation.override(language):
        assert species.vernacular_name == tiger
        assert str(species.rank_label) == rank


@pytest.mark.django_db
def test_a_packages_own_names_are_kept_and_an_unknown_rank_is_shown_as_given():
    species = Species.objects.create(
        name="Eurasian lynx",
        scientific_name="Lynx lynx",
        rank="infraspecies",
        vernacular_names={"eng": "Eurasian lynx", "rus": "обыкновенная рысь"},
    )
    with translation.override("ru"):
        assert species.vernacular_name == "обыкновенная рысь"
        assert species.rank_label == "infraspecies"
    with translation.override("zh-hans"):
        assert species.vernacular_name == "Eurasian lynx"
