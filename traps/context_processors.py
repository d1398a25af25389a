"""Template context every page needs: the navigation for the user's roles, the base map."""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy

from accounts import roles
from accounts.roles import Role, has_permission, user_roles

# (url name, label, the permission of the role table its page needs). The first pages
# are a role's daily work; the last ones (SECONDARY) go under "More" when a role has
# so many pages that the menu would not fit one row.
NAVIGATION = [
    ("home", _("Overview"), roles.PARK_DATA),
    ("traps:upload", _("Upload"), roles.UPLOAD),
    ("traps:deployment-list", _("Deployments"), roles.PARK_DATA),
    ("leopards:review-queue", pgettext_lazy("section", "Review"), roles.REVIEW),
    ("leopards:leopard-list", _("Individuals"), roles.INDIVIDUALS),
    ("leopards:second-opinion-queue", _("Second opinion"), roles.REVIEW),
    ("census:dashboard", _("Census"), roles.CENSUS),
    ("exchange:index", _("Data exchange"), roles.EXCHANGE),
    ("admin:index", _("Administration"), roles.ADMIN_SITE),
]


SECONDARY = {"leopards:second-opinion-queue", "exchange:index", "admin:index"}
# More menu entries than this and the secondary pages move under "More".
NAVIGATION_ROW = 6


def navigation(request: HttpRequest) -> dict:
    # An error page for a request refused before the authentication middleware ran
    # (a NUL in the address, a bad host) has no user: it shows the menu of nobody.
    user = getattr(request, "user", None) or AnonymousUser()
    held = user_roles(user)
    items = [
        {
            "url": reverse(name),
            "label": label,
            "active": request.path == reverse(name),
            "secondary": name in SECONDARY,
        }
        for name, label, permission in NAVIGATION
        if has_permission(user, permission)
    ]
    more = [item for item in items if item["secondary"]] if len(items) > NAVIGATION_ROW else []
    items = [item for item in items if item not in more]
    # Values for code that tests a role, translated labels for people to read.
    labels = [str(Role(role).label) for role in sorted(held)]
    return {
        "nav_items": items,
        "nav_more": more,
        "nav_more_active": any(item["active"] for item in more),
        "user_roles": sorted(held),
        "user_role_labels": labels,
        # Chinese lists take 、, not a comma.
        "user_role_list": pgettext("list separator", ", ").join(labels),
    }


def map_tiles(request: HttpRequest) -> dict:
    # Read per request, not at import: tests and deployments change the settings.
    return {
        "map_tiles": {
            "url": settings.MAP_TILE_URL,
            "attribution": settings.MAP_TILE_ATTRIBUTION,
            "max_native_zoom": settings.MAP_TILE_MAX_ZOOM,
        }
    }
