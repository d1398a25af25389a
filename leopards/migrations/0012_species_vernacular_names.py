"""Give the review's default species their Russian and Chinese names.

Only names a taxon does not have yet are added: an imported package's own
vernacular names are kept.
"""

from django.db import migrations

# scientific name (or the name, without one) -> English, Russian, Chinese.
NAMES = {
    "Panthera tigris altaica": ("Amur tiger", "амурский тигр", "东北虎"),
    "Cervus nippon": ("Sika deer", "пятнистый олень", "梅花鹿"),
    "Capreolus pygargus": ("Siberian roe deer", "сибирская косуля", "西伯利亚狍"),
    "Sus scrofa": ("Wild boar", "кабан", "野猪"),
    "Ursus thibetanus": ("Asian black bear", "гималайский медведь", "亚洲黑熊"),
    "Ursus arctos": ("Brown bear", "бурый медведь", "棕熊"),
    "Meles leucurus": ("Asian badger", "азиатский барсук", "亚洲狗獾"),
    "Nyctereutes procyonoides": ("Raccoon dog", "енотовидная собака", "貉"),
    "Prionailurus bengalensis": ("Leopard cat", "амурский лесной кот", "豹猫"),
    "Martes flavigula": ("Yellow-throated marten", "харза", "黄喉貂"),
    "Lepus mandshuricus": ("Manchurian hare", "маньчжурский заяц", "东北兔"),
    "Canis familiaris": ("Domestic dog", "собака", "家犬"),
    "Bird": ("Bird", "птица", "鸟类"),
}


def add_names(apps, schema_editor):
    Species = apps.get_model("leopards", "Species")
    for species in Species.objects.all():
        found = NAMES.get(species.scientific_name) or NAMES.get(species.name)
        if not found:
            continue
        names = dict(species.vernacular_names or {})
        for code, name in zip(("eng", "rus", "zho"), found, strict=True):
            names.setdefault(code, name)
        if names != species.vernacular_names:
            species.vernacular_names = names
            species.save(update_fields=["vernacular_names"])


class Migration(migrations.Migration):
    dependencies = [
        ("leopards", "0011_learned_second_stage"),
    ]

    operations = [migrations.RunPython(add_names, migrations.RunPython.noop)]
