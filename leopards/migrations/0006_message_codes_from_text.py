"""Read the reasons and flags the registry wrote as text back into codes and parameters.

They were saved in the language of whoever triggered them (English from scripts and
workers, Russian or Chinese from a colleague's browser). The texts below are the exact
messages as they were written in each language up to this migration; a text that matches
none of them, such as a person's own words, is left as it is.
"""

import re

from django.db import migrations

# Fixed reasons by the kind of change they were written for.
REASONS = {
    ("second_opinion", "blind_check_agreed"): {
        "Blind check agreed.",
        "Слепая проверка: ответы совпали.",
        "盲审结果一致。",
    },
    ("second_opinion", "blind_check_disagreed"): {
        "Blind check disagreed.",
        "Слепая проверка: ответы не совпали.",
        "盲审结果不一致。",
    },
    ("unconfirm", "box_shows_no_leopard"): {
        "The box shows no leopard.",
        "В рамке нет леопарда.",
        "检测框内没有东北豹。",
    },
}
FLANKS_SEEN_TOGETHER = [
    re.compile(r"Left and right flanks seen together at one station: (?P<a>.+) and (?P<b>.+)\."),
    re.compile(r"Левый и правый бока сняты одновременно на одной станции: (?P<a>.+) и (?P<b>.+)\."),
    re.compile(r"同一相机位点同时拍到左右体侧：(?P<a>.+) 和 (?P<b>.+)。"),
]
SECOND_OPINION_DISAGREES = [
    re.compile(r"Second opinion disagrees: (?P<first>.+?) or (?P<second>.+)\?"),
    re.compile(r"Второе мнение расходится с первым: (?P<first>.+?) или (?P<second>.+)\?"),
    re.compile(r"复核结果不一致：(?P<first>.+?) 还是 (?P<second>.+)？"),
]
# What a flag named instead of an individual: the second answer's label in each language.
ANSWERS = {
    "Not in the catalogue: a new individual": "new",
    "Нет в каталоге: новая особь": "new",
    "不在目录中：新个体": "new",
    "Cannot be told": "unidentifiable",
    "Определить нельзя": "unidentifiable",
    "无法判断": "unidentifiable",
}

ENGLISH_REASONS = {
    "blind_check_agreed": "Blind check agreed.",
    "blind_check_disagreed": "Blind check disagreed.",
    "box_shows_no_leopard": "The box shows no leopard.",
}
ENGLISH_ANSWERS = {
    "new": "Not in the catalogue: a new individual",
    "unidentifiable": "Cannot be told",
}


def _match(patterns, text):
    for pattern in patterns:
        found = pattern.fullmatch(text)
        if found:
            return found.groupdict()
    return None


def texts_to_codes(apps, schema_editor):
    CatalogueChange = apps.get_model("leopards", "CatalogueChange")
    EventReview = apps.get_model("leopards", "EventReview")
    by_text = {(kind, text): code for (kind, code), texts in REASONS.items() for text in texts}
    changes = CatalogueChange.objects.filter(reason_code="").exclude(reason="")
    for change in changes.iterator():
        text = change.reason.strip()
        code, params = by_text.get((change.kind, text)), {}
        if code is None and change.kind == "flank_link":
            params = _match(FLANKS_SEEN_TOGETHER, text)
            code = "flanks_seen_together" if params else None
        if code is None:
            continue
        change.reason_code = code
        change.reason_params = params or {}
        change.reason = ""
        change.save(update_fields=["reason_code", "reason_params", "reason"])
    for review in EventReview.objects.filter(flag_code="").exclude(flag="").iterator():
        found = _match(SECOND_OPINION_DISAGREES, review.flag.strip())
        if found is None:
            continue
        second = found["second"]
        params = {"first": found["first"]}
        if second in ANSWERS:
            params["answer"] = ANSWERS[second]
        else:
            params["second"] = second
        review.flag_code = "second_opinion_disagrees"
        review.flag_params = params
        review.flag = ""
        review.save(update_fields=["flag_code", "flag_params", "flag"])


def codes_to_texts(apps, schema_editor):
    CatalogueChange = apps.get_model("leopards", "CatalogueChange")
    EventReview = apps.get_model("leopards", "EventReview")
    for change in CatalogueChange.objects.exclude(reason_code="").iterator():
        params = change.reason_params or {}
        if change.reason_code == "flanks_seen_together":
            text = "Left and right flanks seen together at one station: {} and {}.".format(
                params.get("a", "?"), params.get("b", "?")
            )
        else:
            text = ENGLISH_REASONS.get(change.reason_code, change.reason_code)
        change.reason = f"{text} {change.reason}".strip()
        change.reason_code = ""
        change.reason_params = {}
        change.save(update_fields=["reason", "reason_code", "reason_params"])
    for review in EventReview.objects.exclude(flag_code="").iterator():
        params = review.flag_params or {}
        second = params.get("second") or ENGLISH_ANSWERS.get(params.get("answer"), "?")
        review.flag = "Second opinion disagrees: {} or {}?".format(
            params.get("first", "?"), second
        )[:200]
        review.flag_code = ""
        review.flag_params = {}
        review.save(update_fields=["flag", "flag_code", "flag_params"])


class Migration(migrations.Migration):
    dependencies = [
        ("leopards", "0005_message_codes"),
    ]

    operations = [
        migrations.RunPython(texts_to_codes, codes_to_texts),
    ]
