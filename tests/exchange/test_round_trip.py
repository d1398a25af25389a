"""Import another organisation's package, export it again, and compare every row and value.

The only differences allowed are the normalisations listed in the README's data
exchange section, and each is named here where it is allowed.
"""

import json
from datetime import datetime
from pathlib import Path

import pytest

from exchange.camtrap_dp.export import package_write
from exchange.camtrap_dp.importer import package_import
from exchange.camtrap_dp.validation import table_schema
from exchange.models import ImportRun, Observation
from leopards.models import Sighting, Species
from tests.exchange.helpers import read_csv, validate_offline
from tests.exchange.packages import DESCRIPTOR_METADATA, TAXONOMIC, partner_package
from traps.models import Event

KEYS = {"deployments": "deploymentID", "media": "mediaID", "observations": "observationID"}
# Normalisation: the export's own descriptor fields, computed from the records it writes.
OWN_DESCRIPTOR_KEYS = {"resources", "profile", "created", "spatial", "temporal"}


def _same(field: dict, sent: str, back: str) -> bool:
    if field["type"] == "datetime" and sent:
        # Normalisation: the same instant, written in the park's offset.
        return datetime.fromisoformat(sent) == datetime.fromisoformat(back)
    if field["type"] in {"number", "integer"} and sent:
        # Normalisation: numbers as numbers ("0.50" and "0.5" are one value).
        return float(sent) == float(back)
    return sent == back


def _differences(table: str, sent_dir: Path, back_dir: Path) -> list[str]:
    key = KEYS[table]
    sent = {row[key]: row for row in read_csv(sent_dir / f"{table}.csv")}
    back = {row[key]: row for row in read_csv(back_dir / f"{table}.csv")}
    problems = [f"{table}: missing {k}" for k in sent.keys() - back.keys()]
    problems += [f"{table}: added {k}" for k in back.keys() - sent.keys()]
    for field in table_schema(table)["fields"]:
        name = field["name"]
        for k in sent.keys() & back.keys():
            if not _same(field, sent[k].get(name, ""), back[k].get(name, "")):
                problems.append(f"{table} {k} {name}: {sent[k].get(name)!r} != {back[k][name]!r}")
    return problems


@pytest.fixture
def round_trip(park, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "storage"
    sent = partner_package(tmp_path / "sent")
    summary = package_import(path=sent, park=park, organisation="NETLNP")
    package_write(out_dir=tmp_path / "back", parks=[park], exact_coordinates=True)
    return sent, tmp_path / "back", summary


@pytest.mark.parametrize("table", ["deployments", "media", "observations"])
def test_every_row_and_value_comes_back(round_trip, table):
    sent, back, _summary = round_trip

    assert _differences(table, sent, back) == []


def test_the_export_of_imported_data_is_a_valid_package(round_trip):
    _sent, back, _summary = round_trip

    assert validate_offline(back) == []


def test_the_package_metadata_comes_back(round_trip):
    _sent, back, _summary = round_trip
    descriptor = json.loads((back / "datapackage.json").read_text())

    for key, value in DESCRIPTOR_METADATA.items():
        assert descriptor[key] == value, key
    assert descriptor["taxonomic"] == TAXONOMIC
    assert (
        not set(descriptor)
        - set(DESCRIPTOR_METADATA)
        - OWN_DESCRIPTOR_KEYS
        - {
            "taxonomic",
            "coordinatePrecision",
        }
    )


def test_a_partners_extra_resource_comes_back_beside_ours(round_trip):
    sent, back, _summary = round_trip
    descriptor = json.loads((back / "datapackage.json").read_text())
    names = [r["name"] for r in descriptor["resources"]]

    # Normalisation: the registry's own individuals resource steps aside for the partner's.
    assert names == ["deployments", "media", "observations", "registry-individuals", "individuals"]
    assert read_csv(back / "individuals.csv") == read_csv(sent / "individuals.csv")


def test_observations_are_kept_at_both_levels_with_their_types(round_trip):
    _sent, _back, summary = round_trip
    kept = Observation.objects.filter(import_run=summary.run)

    assert kept.count() == 14
    assert kept.filter(level=Observation.Level.MEDIA).count() == 9
    assert kept.get(identifier="o-m5").type == Observation.Type.UNCLASSIFIED
    assert kept.get(identifier="o-e4").type == Observation.Type.UNKNOWN
    box = kept.get(identifier="o-m2")
    assert (box.bbox_x, box.bbox_h, box.position_angle) == (0.123456789, 0.333333333, -12.5)


def test_every_species_is_a_taxon_record_with_its_names(round_trip):
    boar = Species.objects.get(scientific_name="Sus scrofa")

    assert boar.taxon_id.endswith("/taxon/3DXV3")
    assert boar.rank == "species"
    assert boar.vernacular_names["zho"] == "野猪"
    assert boar.active  # offered on the review page
    leopard = Species.objects.get(scientific_name="Panthera pardus orientalis")
    assert not leopard.active  # the leopard is never "another species"
    roe = Event.objects.get(exchange_link__identifier="ev-7")
    assert roe.review.species.scientific_name == "Capreolus pygargus"


def test_the_package_metadata_is_kept_on_the_import(round_trip):
    _sent, _back, summary = round_trip
    run = ImportRun.objects.get(pk=summary.run.pk)

    assert run.organisation == "NETLNP"
    assert run.metadata["licenses"] == DESCRIPTOR_METADATA["licenses"]
    assert run.metadata["resources"][0]["rows"][0]["nickname"] == "Hunchun mother"


def test_a_partners_leopards_become_sightings_without_new_individuals(round_trip):
    _sent, _back, summary = round_trip

    sightings = Sighting.objects.filter(exchange_observation__import_run=summary.run)
    assert sightings.count() == 3
    assert not sightings.filter(leopard__isnull=False).exists()
    assert sightings.get(exchange_observation__identifier="o-m2").status == "proposed"


def test_a_package_imported_as_our_own_also_comes_back(park, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "storage"
    sent = partner_package(tmp_path / "sent")
    package_import(path=sent, park=park)
    package_write(out_dir=tmp_path / "back", parks=[park], exact_coordinates=True)

    for table in KEYS:
        assert _differences(table, sent, tmp_path / "back") == []
    assert Sighting.objects.filter(leopard__code="NE-L12").count() == 1
