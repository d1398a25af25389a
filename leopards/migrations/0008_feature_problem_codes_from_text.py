"""Read the matcher's feature problems, stored as text, back into codes and parameters.

The worker wrote them in the language it ran in (English, unless a page queued the work
in Russian or Chinese in local mode). The texts below are the exact messages as they
were written in each language up to this migration; a text that matches none of them
is left as it is.
"""

import re

from django.db import migrations

# The messages by code, with their placeholders, in English, Russian and Chinese.
TEXTS = {
    "no_file": [
        "This photo record has no stored file.",
        "У этой записи о фотографии нет сохранённого файла.",
        "该照片记录没有已保存的文件。",
    ],
    "file_missing": [
        "The photo file is missing from storage.",
        "Файл фотографии отсутствует в хранилище.",
        "存储中缺少该照片文件。",
    ],
    "unreadable": [
        "The photo cannot be read as an image: %(why)s",
        "Фотографию не удаётся прочитать как изображение: %(why)s",
        "无法将照片读取为图像：%(why)s",
    ],
    "too_small": [
        "The box is too small to show a spot pattern (%(px)s pixels across; "
        "at least %(min)d are needed).",
        "Рамка слишком мала, чтобы различить рисунок пятен (%(px)s пикс. в "
        "поперечнике; нужно не менее %(min)d).",
        "检测框过小，无法显示斑纹（宽 %(px)s 像素，至少需要 %(min)d 像素）。",
    ],
    "no_pattern": [
        "No spot pattern found in the box: it may be blank, over- or under-exposed, "
        "or too blurred.",
        "В рамке не найден рисунок пятен: возможно, она пуста, кадр пере- или "
        "недоэкспонирован либо слишком размыт.",
        "检测框内未找到斑纹：可能是空的、过曝、欠曝或过于模糊。",
    ],
    "gave_up": [
        "Matching stopped after several attempts: %(why)s",
        "Сопоставление остановлено после нескольких попыток: %(why)s",
        "多次尝试后匹配已停止：%(why)s",
    ],
}
ENGLISH = {code: texts[0] for code, texts in TEXTS.items()}
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


def problem_of(text):
    """Return (code, params) for a stored text, or None when it is none of the messages."""
    for code, regex in PATTERNS:
        found = regex.fullmatch(text.strip())
        if found:
            params = found.groupdict()
            if "min" in params:
                params["min"] = int(params["min"])
            return code, params
    return None


def texts_to_codes(apps, schema_editor):
    Sighting = apps.get_model("leopards", "Sighting")
    stored = Sighting.objects.filter(feature_error_code="").exclude(feature_error="")
    for sighting in stored.only("pk", "feature_error").iterator():
        problem = problem_of(sighting.feature_error)
        if problem is None:
            continue
        Sighting.objects.filter(pk=sighting.pk).update(
            feature_error_code=problem[0], feature_error_params=problem[1], feature_error=""
        )


def codes_to_texts(apps, schema_editor):
    Sighting = apps.get_model("leopards", "Sighting")
    stored = Sighting.objects.exclude(feature_error_code="")
    for sighting in stored.only("pk", "feature_error_code", "feature_error_params").iterator():
        template = ENGLISH.get(sighting.feature_error_code, sighting.feature_error_code)
        try:
            text = template % (sighting.feature_error_params or {})
        except (KeyError, TypeError, ValueError):
            text = PLACEHOLDER.sub("?", template)
        Sighting.objects.filter(pk=sighting.pk).update(
            feature_error=text, feature_error_code="", feature_error_params={}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("leopards", "0007_feature_problem_codes"),
    ]

    operations = [
        migrations.RunPython(texts_to_codes, codes_to_texts),
    ]
