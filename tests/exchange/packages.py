"""A third-party-style Camtrap DP 1.0.2 package that uses every field of every table."""

import json
from pathlib import Path

from exchange.camtrap_dp.validation import table_schema
from tests.exchange.helpers import write_csv
from tests.factories import jpeg_bytes

V102 = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2"
COL = "https://www.checklistbank.org/dataset/COL2023"

TAXONOMIC = [
    {
        "scientificName": "Panthera pardus orientalis",
        "taxonID": f"{COL}/taxon/6DHQ2",
        "taxonIDReference": COL,
        "taxonRank": "subspecies",
        "kingdom": "Animalia",
        "phylum": "Chordata",
        "class": "Mammalia",
        "order": "Carnivora",
        "family": "Felidae",
        "genus": "Panthera",
        "vernacularNames": {
            "eng": "Amur leopard",
            "zho": "远东豹",
            "rus": "дальневосточный леопард",
        },
    },
    {
        "scientificName": "Sus scrofa",
        "taxonID": f"{COL}/taxon/3DXV3",
        "taxonIDReference": COL,
        "taxonRank": "species",
        "family": "Suidae",
        "vernacularNames": {"eng": "wild boar", "zho": "野猪", "rus": "кабан"},
    },
    {
        "scientificName": "Capreolus pygargus",
        "taxonID": f"{COL}/taxon/3CXYR",
        "taxonRank": "species",
        "vernacularNames": {"eng": "Siberian roe deer", "zho": "西伯利亚狍"},
    },
    {
        "scientificName": "Lepus mandshuricus",
        "taxonID": f"{COL}/taxon/4QHKG",
        "taxonRank": "species",
        "vernacularNames": {"eng": "Manchurian hare"},
    },
]

DESCRIPTOR_METADATA = {
    "name": "netlnp-hunchun-2023",
    "id": "9f5d3b7e-5a5c-4f7e-9a0b-0c2d1e6f7a11",
    "title": "Hunchun camera traps 2023",
    "description": "Camera-trap records from the Hunchun sector.",
    "version": "1.3",
    "keywords": ["camera traps", "Amur leopard", "Hunchun"],
    "homepage": "https://example.org/netlnp/hunchun-2023",
    "bibliographicCitation": "NETLNP (2024). Hunchun camera traps 2023. Version 1.3.",
    "licenses": [
        {"name": "CC-BY-4.0", "scope": "data"},
        {"path": "http://creativecommons.org/licenses/by-nc/4.0/", "scope": "media"},
    ],
    "contributors": [
        {
            "title": "Northeast Tiger and Leopard National Park",
            "role": "rightsHolder",
            "path": "https://example.org/netlnp",
        },
        {
            "title": "Li Wei",
            "email": "li.wei@example.org",
            "role": "principalInvestigator",
            "organization": "NETLNP",
            "firstName": "Wei",
            "lastName": "Li",
        },
        {"title": "Zhang Min", "role": "contributor"},
    ],
    "sources": [{"title": "Agouti", "path": "https://www.agouti.eu", "version": "v3.21"}],
    "relatedIdentifiers": [
        {
            "relationType": "IsDerivedFrom",
            "relatedIdentifier": "https://doi.org/10.15468/example",
            "relatedIdentifierType": "DOI",
        }
    ],
    "references": ["Feng L. et al. (2017). Landscape Ecology."],
    "project": {
        "id": "hunchun",
        "title": "Hunchun leopard monitoring",
        "acronym": "HLM",
        "description": "Systematic camera trapping along the border.",
        "path": "https://example.org/netlnp/hlm",
        "samplingDesign": "systematicRandom",
        "captureMethod": ["activityDetection", "timeLapse"],
        "individualAnimals": True,
        "observationLevel": ["media", "event"],
    },
    "image": "https://example.org/netlnp/hunchun-2023.jpg",
}


def _deployments(prefix: str) -> list[dict[str, object]]:
    return [
        {
            "deploymentID": f"{prefix}dep-1",
            "locationID": f"{prefix}HC-07",
            "locationName": "Hunchun ridge 7",
            "latitude": 43.012345,
            "longitude": 130.876543,
            "coordinateUncertainty": 30,
            "deploymentStart": "2023-05-01T09:00:00+08:00",
            "deploymentEnd": "2023-07-01T17:30:00+08:00",
            "setupBy": "Zhang Min",
            "cameraID": "HC07-A",
            "cameraModel": "Reconyx-HyperFire 2",
            "cameraDelay": 10,
            "cameraHeight": 0.75,
            "cameraDepth": 0.5,
            "cameraTilt": -5,
            "cameraHeading": 225,
            "detectionDistance": 9.5,
            "timestampIssues": "false",
            "baitUse": "false",
            "featureType": "trailGame",
            "habitat": "Mixed Korean pine forest",
            "deploymentGroups": "hunchun-2023 | grid:C4",
            "deploymentTags": "trail:game | slope:north",
            "deploymentComments": "Camera facing the saddle.",
        },
        {
            "deploymentID": f"{prefix}dep-2",
            "locationID": f"{prefix}HC-09",
            "locationName": "Hunchun valley 9",
            "latitude": 43.105,
            "longitude": 130.99,
            "coordinateUncertainty": 100,
            "deploymentStart": "2023-05-02T10:00:00+08:00",
            "deploymentEnd": "2023-06-15T10:00:00+08:00",
            "cameraModel": "Browning-BTC-8E",
            "cameraHeight": 1.2,
            "timestampIssues": "true",
            "baitUse": "true",
            "featureType": "waterSource",
            "deploymentGroups": "hunchun-2023",
        },
        {
            "deploymentID": f"{prefix}dep-3",
            "locationID": f"{prefix}HC-07",
            "locationName": "Hunchun ridge 7",
            "latitude": 43.012345,
            "longitude": 130.876543,
            "deploymentStart": "2023-07-02T09:00:00+08:00",
            "deploymentEnd": "2023-09-01T09:00:00+08:00",
            "cameraID": "HC07-B",
            "cameraModel": "Reconyx-HyperFire 2",
            "cameraTilt": 0,
            "cameraHeading": 0,
            "featureType": "roadDirt",
            "deploymentTags": "replaced",
        },
    ]


def _media(prefix: str, local: set[str]) -> list[dict[str, object]]:
    rows = [
        # mediaID, deployment, time, captureMethod, favorite, comments, exifData
        (
            "m1",
            "dep-1",
            "2023-05-20T22:14:03+08:00",
            "activityDetection",
            "true",
            "Good flank",
            '{"Make": "RECONYX", "ExposureTime": "1/30"}',
        ),
        ("m2", "dep-1", "2023-05-20T22:14:05+08:00", "activityDetection", "false", "", "[1, 2, 3]"),
        (
            "m3",
            "dep-1",
            "2023-06-02T05:40:00+08:00",
            "activityDetection",
            "",
            "Two piglets",
            "RECONYX raw header",
        ),
        ("m4", "dep-2", "2023-05-10T12:00:00+08:00", "timeLapse", "", "", ""),
        ("m5", "dep-2", "2023-05-11T03:33:33+08:00", "activityDetection", "", "Fog", "42"),
        ("m6", "dep-3", "2023-07-02T09:05:00+08:00", "timeLapse", "", "Setup photo", ""),
        ("m7", "dep-3", "2023-07-20T14:00:00+08:00", "activityDetection", "", "", ""),
        (
            "m8",
            "dep-3",
            "2023-08-01T19:45:10+08:00",
            "activityDetection",
            "true",
            "",
            '{"Make": "RECONYX"}',
        ),
    ]
    return [
        {
            "mediaID": f"{prefix}{media_id}",
            "deploymentID": f"{prefix}{dep}",
            "captureMethod": method,
            "timestamp": ts,
            "filePath": f"media/{prefix}{media_id}.jpg"
            if media_id in local
            else f"https://example.org/netlnp/media/{prefix}{media_id}.jpg",
            "filePublic": "false" if media_id in local else "true",
            "fileName": f"{prefix}{media_id.upper()}.JPG",
            "fileMediatype": "image/jpeg",
            "exifData": exif,
            "favorite": favorite,
            "mediaComments": comments,
        }
        for media_id, dep, ts, method, favorite, comments, exif in rows
    ]


def _observations(prefix: str, leopard_ids: tuple[str, str]) -> list[dict[str, object]]:
    adult, kitten = leopard_ids
    p = prefix

    def media(obs: str, media_id: str, dep: str, event: str, ts: str, **fields: object) -> dict:
        return {
            "observationID": f"{p}{obs}",
            "deploymentID": f"{p}{dep}",
            "mediaID": f"{p}{media_id}",
            "eventID": f"{p}{event}",
            "eventStart": ts,
            "eventEnd": ts,
            "observationLevel": "media",
            **fields,
        }

    def event(obs: str, dep: str, event_id: str, start: str, end: str, **fields: object) -> dict:
        return {
            "observationID": f"{p}{obs}",
            "deploymentID": f"{p}{dep}",
            "mediaID": "",
            "eventID": f"{p}{event_id}",
            "eventStart": start,
            "eventEnd": end,
            "observationLevel": "event",
            **fields,
        }

    t1, t2 = "2023-05-20T22:14:03+08:00", "2023-05-20T22:14:05+08:00"
    leopard = "Panthera pardus orientalis"
    return [
        event("o-e1", "dep-1", "ev-1", t1, t2, observationType="animal", scientificName=leopard,
              count=2, lifeStage="adult", sex="female", behavior="walking",
              individualID=adult, classificationMethod="human", classifiedBy="Li Wei",
              classificationTimestamp="2023-09-01T10:00:00+08:00",
              observationTags="checked:yes", observationComments="Mother with kitten"),
        media("o-m1", "m1", "dep-1", "ev-1", t1, observationType="animal", scientificName=leopard,
              count=1, bboxX=0.1, bboxY=0.2, bboxWidth=0.35, bboxHeight=0.3,
              classificationMethod="machine", classifiedBy="MegaDetector v5a; SpeciesNet 4.0",
              classificationTimestamp="2023-08-30T01:02:03+08:00",
              classificationProbability=0.93),
        media("o-m2", "m1", "dep-1", "ev-1", t1, observationType="animal", scientificName=leopard,
              count=1, lifeStage="adult", sex="female", behavior="walking; sniffing",
              individualID=adult, individualPositionRadius=4.25, individualPositionAngle=-12.5,
              individualSpeed=0.8, bboxX=0.123456789, bboxY=0.25, bboxWidth=0.4,
              bboxHeight=0.333333333, classificationMethod="human", classifiedBy="Li Wei",
              classificationTimestamp="2023-09-01T10:00:00+08:00", observationTags="flank:left",
              observationComments="Left flank, clear rosettes"),
        media("o-m3", "m2", "dep-1", "ev-1", t2, observationType="animal", scientificName=leopard,
              count=1, lifeStage="juvenile", individualID=kitten, bboxX=0.6, bboxY=0.5,
              bboxWidth=0.2, bboxHeight=0.25, classificationMethod="human",
              classifiedBy="Li Wei"),
        event("o-e2", "dep-1", "ev-2", "2023-06-02T05:40:00+08:00", "2023-06-02T05:40:00+08:00",
              observationType="animal", scientificName="Sus scrofa", count=3,
              lifeStage="adult", behavior="foraging", classificationMethod="human",
              classifiedBy="Zhang Min"),
        media("o-m4", "m3", "dep-1", "ev-2", "2023-06-02T05:40:00+08:00",
              observationType="animal", scientificName="Sus scrofa", count=2,
              lifeStage="juvenile", bboxX=0, bboxY=0.5, bboxWidth=0.5, bboxHeight=0.5,
              classificationMethod="machine", classifiedBy="SpeciesNet 4.0",
              classificationProbability=0.61),
        event("o-e3", "dep-2", "ev-3", "2023-05-10T12:00:00+08:00", "2023-05-10T12:00:00+08:00",
              observationType="blank", classificationMethod="machine",
              classifiedBy="MegaDetector v5a", classificationProbability=0.98),
        media("o-m5", "m5", "dep-2", "ev-4", "2023-05-11T03:33:33+08:00",
              observationType="unclassified"),
        event("o-e4", "dep-2", "ev-4", "2023-05-11T03:33:33+08:00", "2023-05-11T03:33:33+08:00",
              observationType="unknown", classificationMethod="human", classifiedBy="Zhang Min",
              observationComments="Too foggy to tell"),
        media("o-m6", "m6", "dep-3", "ev-5", "2023-07-02T09:05:00+08:00",
              observationType="human", cameraSetupType="setup", count=1,
              classificationMethod="human", classifiedBy="Zhang Min"),
        media("o-m7", "m7", "dep-3", "ev-6", "2023-07-20T14:00:00+08:00",
              observationType="vehicle", count=1, bboxX=0.05, bboxY=0.1, bboxWidth=0.9,
              bboxHeight=0.6, classificationMethod="machine", classifiedBy="MegaDetector v5a",
              classificationProbability=0.88),
        media("o-m8", "m8", "dep-3", "ev-7", "2023-08-01T19:45:10+08:00",
              observationType="animal", scientificName="Capreolus pygargus", count=1,
              sex="male", lifeStage="adult", classificationMethod="human",
              classifiedBy="Li Wei"),
        media("o-m9", "m8", "dep-3", "ev-7", "2023-08-01T19:45:10+08:00",
              observationType="animal", scientificName="Lepus mandshuricus", count=1,
              bboxX=0.7, bboxY=0.8, bboxWidth=0.1, bboxHeight=0.1,
              classificationMethod="machine", classifiedBy="SpeciesNet 4.0",
              classificationProbability=0.55),
        event("o-e5", "dep-3", "ev-7", "2023-08-01T19:45:10+08:00", "2023-08-01T19:45:10+08:00",
              observationType="animal", scientificName="Capreolus pygargus", count=1,
              classificationMethod="human", classifiedBy="Li Wei"),
    ]  # fmt: skip


def partner_package(
    folder: Path,
    *,
    prefix: str = "",
    leopard_ids: tuple[str, str] = ("NE-L12", "NE-K3"),
    local: frozenset[str] = frozenset(),
    name: str = "netlnp-hunchun-2023",
) -> Path:
    """Write the package; media named in ``local`` travel as files, the others as links.

    ``prefix`` makes every identifier distinct, so that two packages can be imported
    into one registry as two organisations would send them.
    """
    folder.mkdir(parents=True)
    for media_id in local:
        (folder / "media").mkdir(exist_ok=True)
        (folder / "media" / f"{prefix}{media_id}.jpg").write_bytes(
            jpeg_bytes(seed=hash((prefix, media_id)) % 1000)
        )
    resources = [
        {
            "name": table,
            "path": f"{table}.csv",
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": f"{V102}/{table}-table-schema.json",
        }
        for table in ("deployments", "media", "observations")
    ]
    resources.append(
        {
            "name": "individuals",
            "path": "individuals.csv",
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": {
                "fields": [
                    {"name": "individualID", "type": "string"},
                    {"name": "sex", "type": "string"},
                    {"name": "nickname", "type": "string"},
                ]
            },
        }
    )
    descriptor = {
        "resources": resources,
        "profile": f"{V102}/camtrap-dp-profile.json",
        "created": "2024-02-01T08:00:00Z",
        **DESCRIPTOR_METADATA,
        "name": name,
        "spatial": {
            "type": "Polygon",
            "coordinates": [
                [[130.8, 43.0], [131.0, 43.0], [131.0, 43.2], [130.8, 43.2], [130.8, 43.0]]
            ],
        },
        "temporal": {"start": "2023-05-01", "end": "2023-09-01"},
        "taxonomic": TAXONOMIC,
    }
    (folder / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False))
    for table, rows in (
        ("deployments", _deployments(prefix)),
        ("media", _media(prefix, set(local))),
        ("observations", _observations(prefix, leopard_ids)),
    ):
        # Every column of the table, in the schema's order, as a careful sender writes it.
        columns = [f["name"] for f in table_schema(table)["fields"]]
        write_csv(folder / f"{table}.csv", [{c: row.get(c, "") for c in columns} for row in rows])
    adult, kitten = leopard_ids
    write_csv(
        folder / "individuals.csv",
        [
            {"individualID": adult, "sex": "female", "nickname": "Hunchun mother"},
            {"individualID": kitten, "sex": "", "nickname": ""},
        ],
    )
    return folder
