"""Read the warnings and counts of past imports, stored as text, back into codes.

Warnings were saved in the language of whoever imported (English from the command line,
Russian or Chinese from a colleague's browser); MegaDetector runs counted what they
created under English phrases. The texts below are the exact messages as they were
written in each language up to this migration; a warning that matches none of them is
kept as text and shown as it is.
"""

import re

from django.db import migrations

# The messages by code, with their placeholders, in English, Russian and Chinese.
TEXTS = {
    "other_species": [
        "%(n)d observation of another species was kept as its event's content "
        "“other species”; the registry does not store species names.",
        "%(n)d observations of other species were kept as their events' content "
        "“other species”; the registry does not store their names.",
        "Наблюдений других видов: %(n)d. Они сохранены как содержимое серий снимков "
        "«Другие виды»; названия видов реестр не хранит.",
        "%(n)d 条其他物种的观测记录已作为所属事件的内容“其他物种”保存；系统不保存物种名称。",
    ],
    "sex_differs": [
        "Individual %(code)s is %(ours)s here but %(theirs)s in the package; kept %(ours)s.",
        "Пол особи %(code)s здесь — %(ours)s, а в пакете — %(theirs)s; оставлено "
        "значение %(ours)s.",
        "个体 %(code)s 在本系统中为 %(ours)s，在数据包中为 %(theirs)s；保留 %(ours)s。",
    ],
    "zero_length_deployment": [
        "Deployment %(id)s ends when it starts; it was given one second.",
        "Установка %(id)s заканчивается в момент начала; ей задана длительность в одну секунду.",
        "布设 %(id)s 的结束时间与开始时间相同，已将其时长设为一秒。",
    ],
    "malfunction_not_a_range": [
        "Deployment %(id)s: the malfunction period “%(v)s” is not a date range.",
        "Установка %(id)s: период неисправности «%(v)s» не является диапазоном дат.",
        "布设 %(id)s：故障时段“%(v)s”不是有效的日期范围。",
    ],
    "media_in_another_deployment": [
        "Media %(id)s is a file the registry already holds in another deployment.",
        "Медиафайл %(id)s уже есть в реестре в другой установке.",
        "媒体 %(id)s 对应的文件已存在于系统中的其他布设。",
    ],
    "media_not_stored": [
        "Media %(id)s: the file was not stored (%(why)s); its record is kept.",
        "Медиафайл %(id)s: файл не сохранён (%(why)s); запись о нём сохранена.",
        "媒体 %(id)s：文件未保存（%(why)s），但保留了其记录。",
    ],
    "individual_without_photos": [
        "Observation %(id)s names individual %(ind)s in an event without photos.",
        "Наблюдение %(id)s указывает особь %(ind)s в серии снимков без фотографий.",
        "观测记录 %(id)s 在没有照片的事件中指定了个体 %(ind)s。",
    ],
    "not_in_deployment": [
        "Not in this deployment: %(f)s",
        "Нет в этой установке: %(f)s",
        "不在该布设中：%(f)s",
    ],
    "ambiguous_name": [
        "Several photos have this name: %(f)s",
        "Несколько фотографий с таким именем: %(f)s",
        "多张照片同名：%(f)s",
    ],
    "detector_failed": [
        "The detector failed on: %(f)s",
        "Детектор не справился с файлом: %(f)s",
        "检测模型处理失败：%(f)s",
    ],
}
# What a sex was called in each language when a warning named it.
SEXES = {
    "female": "female",
    "male": "male",
    "Female": "female",
    "Male": "male",
    "Самка": "female",
    "Самец": "male",
    "雌性": "female",
    "雄性": "male",
}
CREATED = {
    "proposed boxes": "proposed_boxes",
    "likely blank photos": "likely_blank",
    "photos with people": "with_people",
}
PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")


def pattern(message):
    """Return a regular expression that reads a message's placeholders back out of its text."""
    parts, seen, last = [], set(), 0
    for found in PLACEHOLDER.finditer(message):
        parts.append(re.escape(message[last : found.start()]))
        name, kind = found.groups()
        if name in seen:
            parts.append(f"(?P={name})")
        else:
            parts.append(rf"(?P<{name}>-?\d+)" if kind == "d" else rf"(?P<{name}>.+?)")
            seen.add(name)
        last = found.end()
    parts.append(re.escape(message[last:]))
    return re.compile("".join(parts), re.DOTALL)


PATTERNS = [(code, pattern(text)) for code, texts in TEXTS.items() for text in texts]


def warning_of(text):
    """Return a stored text as {code, params}, or the text itself when it is none of them."""
    if not isinstance(text, str):
        return text
    for code, regex in PATTERNS:
        found = regex.fullmatch(text.strip())
        if not found:
            continue
        params = found.groupdict()
        if "n" in params:
            params["n"] = int(params["n"])
        for key in ("ours", "theirs"):
            if key in params:
                params[key] = SEXES.get(params[key], params[key])
        return {"code": code, "params": params}
    return text


def texts_to_codes(apps, schema_editor):
    ImportRun = apps.get_model("exchange", "ImportRun")
    for run in ImportRun.objects.only("pk", "warnings", "created").iterator():
        warnings = [warning_of(w) for w in run.warnings or []]
        created = {CREATED.get(key, key): n for key, n in (run.created or {}).items()}
        if warnings != run.warnings or created != run.created:
            ImportRun.objects.filter(pk=run.pk).update(warnings=warnings, created=created)


def codes_to_texts(apps, schema_editor):
    ImportRun = apps.get_model("exchange", "ImportRun")
    english = {code: texts[0] for code, texts in TEXTS.items()}
    english_plural = TEXTS["other_species"][1]
    created_back = {code: text for text, code in CREATED.items()}
    for run in ImportRun.objects.only("pk", "warnings", "created").iterator():
        warnings = []
        for warning in run.warnings or []:
            if not isinstance(warning, dict):
                warnings.append(warning)
                continue
            params = warning.get("params") or {}
            template = english.get(warning.get("code"), str(warning.get("code")))
            if warning.get("code") == "other_species" and params.get("n") != 1:
                template = english_plural
            try:
                warnings.append(template % params)
            except (KeyError, TypeError, ValueError):
                warnings.append(PLACEHOLDER.sub("?", template))
        created = {created_back.get(key, key): n for key, n in (run.created or {}).items()}
        ImportRun.objects.filter(pk=run.pk).update(warnings=warnings, created=created)


class Migration(migrations.Migration):
    dependencies = [
        ("exchange", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(texts_to_codes, codes_to_texts),
    ]
