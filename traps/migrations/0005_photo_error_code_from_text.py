"""Read the processing errors stored as text back into a code and the decoder's detail."""

import re

from django.db import migrations
from django.utils import translation

# The sentences the worker used to store, with %(why)s where the detail went.
SENTENCES = {
    "too_many_pixels": "The image has more pixels than the limit.",
    "undecodable": "The image data is damaged and cannot be decoded (%(why)s).",
    "gave_up": "Processing stopped after several attempts: %(why)s",
}


def _patterns() -> list[tuple[str, re.Pattern]]:
    patterns = []
    for language in ("en", "ru", "zh-hans"):
        with translation.override(language):
            for code, sentence in SENTENCES.items():
                text = translation.gettext(sentence)
                regex = re.escape(text).replace(re.escape("%(why)s"), "(?P<why>.*)")
                patterns.append((code, re.compile(f"^{regex}$", re.S)))
    return patterns


def codes_from_text(apps, schema_editor):
    Photo = apps.get_model("traps", "Photo")
    patterns = _patterns()
    for photo in Photo.objects.exclude(error="").filter(error_code="").only("pk", "error"):
        for code, pattern in patterns:
            match = pattern.match(photo.error)
            if match:
                detail = match.groupdict().get("why") or ""
                Photo.objects.filter(pk=photo.pk).update(error_code=code, error=detail)
                break


def text_from_codes(apps, schema_editor):
    Photo = apps.get_model("traps", "Photo")
    for photo in Photo.objects.exclude(error_code="").only("pk", "error_code", "error"):
        text = SENTENCES[photo.error_code] % {"why": photo.error}
        Photo.objects.filter(pk=photo.pk).update(error_code="", error=text)


class Migration(migrations.Migration):
    dependencies = [("traps", "0004_photo_error_code")]

    operations = [migrations.RunPython(codes_from_text, text_from_codes)]
