"""Template context every page needs: the navigation for the user's roles."""

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy

from traps.models import Role
from traps.roles import user_roles

# (url name, label, roles that see it). A page appears here once it exists.
# The first pages are a role's daily work; the last ones (SECONDARY) go under
# "More" when a role has so many pages that the menu would not fit one row.
NAVIGATION = [
    ("home", _("Overview"), {Role.RANGER, Role.SCIENTIST, Role.MANAGER, Role.ADMIN}),
    ("traps:upload", _("Upload"), {Role.RANGER, Role.SCIENTIST, Role.ADMIN}),
    (
        "traps:deployment-list",
        _("Deployments"),
        {Role.RANGER, Role.SCIENTIST, Role.MANAGER, Role.ADMIN},
    ),
    ("leopards:review-queue", pgettext_lazy("section", "Review"), {Role.SCIENTIST, Role.ADMIN}),
    (
        "leopards:leopard-list",
        _("Individuals"),
        {Role.RANGER, Role.SCIENTIST, Role.MANAGER, Role.ADMIN},
    ),
    ("leopards:second-opinion-queue", _("Second opinion"), {Role.SCIENTIST, Role.ADMIN}),
    ("census:dashboard", _("Census"), {Role.RANGER, Role.SCIENTIST, Role.MANAGER, Role.ADMIN}),
    ("exchange:index", _("Data exchange"), {Role.SCIENTIST, Role.MANAGER, Role.ADMIN}),
    ("admin:index", _("Administration"), {Role.ADMIN}),
]


SECONDARY = {"leopards:second-opinion-queue", "exchange:index", "admin:index"}
# More menu entries than this and the secondary pages move under "More".
NAVIGATION_ROW = 6


def navigation(request: HttpRequest) -> dict:
    roles = user_roles(request.user)
    items = [
        {
            "url": reverse(name),
            "label": label,
            "active": request.path == reverse(name),
            "secondary": name in SECONDARY,
        }
        for name, label, allowed in NAVIGATION
        if roles & {r.value for r in allowed}
    ]
    more = [item for item in items if item["secondary"]] if len(items) > NAVIGATION_ROW else []
    items = [item for item in items if item not in more]
    # Values for code that tests a role, translated labels for people to read.
    labels = [str(Role(role).label) for role in sorted(roles)]
    return {
        "nav_items": items,
        "nav_more": more,
        "nav_more_active": any(item["active"] for item in more),
        "user_roles": sorted(roles),
        "user_role_labels": labels,
        # Chinese lists take 、, not a comma.
        "user_role_list": pgettext("list separator", ", ").join(labels),
    }
