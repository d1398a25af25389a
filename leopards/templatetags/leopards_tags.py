"""Template helpers of the review and catalogue pages."""

import json
from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst

register = template.Library()


@register.filter
def to_json(value: Any) -> str:
    """Write a value as JSON for a data-* attribute (autoescaping makes it safe there)."""
    return json.dumps(value, separators=(",", ":"), default=str)


@register.filter
def percent(value: float | None) -> str:
    """Write a probability 0-1 as a whole percentage."""
    if value is None:
        return "—"
    # A calibrated probability is never certainty: 0.997 reads "> 99 %", not "100 %".
    if value > 0.99:
        return "> 99 %"
    if 0 < value < 0.01:
        return "< 1 %"
    return f"{round(value * 100)} %"


@register.simple_tag
def events_waiting(user: Any) -> int | None:
    """Return how many events in the user's parks wait for review; None for non-reviewers."""
    from leopards.permissions import can_review
    from leopards.selectors.review import review_queue_counts

    if not can_review(user):
        return None
    return review_queue_counts(user)["pending"]


@register.filter
def get_item(mapping: dict, key: Any) -> Any:
    return mapping.get(key)


@register.filter
def box(sighting: Any) -> list[float] | None:
    """Return a sighting's box as [x, y, w, h] relative to its photo, or None."""
    if sighting is None or sighting.bbox_x is None:
        return None
    return [sighting.bbox_x, sighting.bbox_y, sighting.bbox_w, sighting.bbox_h]


@register.filter
def age_now(leopard: Any) -> str:
    """Return the individual's age class today, derived from its birth estimate."""
    from django.utils import timezone

    from leopards.models import AgeClass

    return AgeClass(leopard.age_class_on(timezone.localdate())).label


@register.filter
def edited_fields(change: Any) -> list[dict[str, Any]]:
    """Return an edit's fields with their translated names and before and after labels."""
    from leopards.models import Leopard

    def shown(field: Any, value: Any) -> Any:
        if value in (None, ""):
            return "—"
        return dict(field.choices).get(value, value) if field.choices else value

    rows = []
    for name, after in (change.after or {}).items():
        try:
            field = Leopard._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        rows.append(
            {
                "label": capfirst(field.verbose_name),
                "before": shown(field, (change.before or {}).get(name)),
                "after": shown(field, after),
            }
        )
    return rows
