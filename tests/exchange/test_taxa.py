"""The review's species list as taxon records: migrated rows, and species in our own exports."""

import importlib
import json
from datetime import UTC, datetime

from django.apps import apps

from exchange.camtrap_dp.export import package_write
from leopards.models import EventReview, Species
from tests.exchange.helpers import read_csv, validate_offline
from tests.factories import DeploymentFactory, PhotoFactory
from traps.models import Event

migration = importlib.import_module("leopards.migrations.0010_species_as_taxon_records")


def test_existing_species_are_kept_and_the_leopard_joins_the_list(db):
    Species.objects.all().delete()
    boar = Species.objects.create(name="Кабан", scientific_name="Sus scrofa", position=3)
    bird = Species.objects.create(name="Bird", position=9, active=False)

    migration.taxa_from_species(apps, None)

    boar.refresh_from_db()
    bird.refresh_from_db()
    assert (boar.name, boar.position, boar.active, boar.rank) == ("Кабан", 3, True, "species")
    assert (bird.name, bird.active, bird.rank) == ("Bird", False, "")
    leopard = Species.objects.get(scientific_name="Panthera pardus orientalis")
    assert (leopard.rank, leopard.active) == ("subspecies", False)
    assert leopard.vernacular_names["zho"] == "远东豹"


def test_an_event_our_scientist_named_goes_out_with_its_taxon(park, tmp_path):
    deer = Species.objects.create(
        name="Sika deer (test)",
        scientific_name="Cervus nippon hortulorum",
        rank="subspecies",
        taxon_id="https://www.checklistbank.org/dataset/COL2023/taxon/TEST1",
        vernacular_names={"eng": "Dybowski's sika deer"},
    )
    deployment = DeploymentFactory(
        station__park=park, start=datetime(2024, 1, 1, tzinfo=UTC), end=None
    )
    taken = datetime(2024, 2, 1, 12, tzinfo=UTC)
    event = Event.objects.create(
        deployment=deployment,
        start=taken,
        end=taken,
        status=Event.Status.REVIEWED,
        content=Event.Content.OTHER_SPECIES,
    )
    PhotoFactory(deployment=deployment, taken_at=taken, event=event)
    EventReview.objects.create(event=event, species=deer)

    package_write(out_dir=tmp_path / "pkg", parks=[park])

    (row,) = read_csv(tmp_path / "pkg" / "observations.csv")
    assert (row["observationType"], row["scientificName"]) == ("animal", "Cervus nippon hortulorum")
    descriptor = json.loads((tmp_path / "pkg" / "datapackage.json").read_text())
    assert descriptor["taxonomic"] == [
        {
            "scientificName": "Cervus nippon hortulorum",
            "taxonID": "https://www.checklistbank.org/dataset/COL2023/taxon/TEST1",
            "taxonRank": "subspecies",
            "vernacularNames": {"eng": "Dybowski's sika deer"},
        }
    ]
    assert validate_offline(tmp_path / "pkg") == []
