"""Why a review or catalogue write was refused, with a message a scientist can act on."""

from datetime import datetime

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class ReviewError(Exception):
    """A write that the catalogue's rules do not allow; the message says why."""

    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Whole sentences per kind of record (`what`), so that each language can agree the
# demonstrative and the verb with the noun instead of slotting a word into one frame.
_BY_WHOM = {
    "event": gettext_lazy(
        "%(who)s changed this event at %(when)s; reload to see the changes. Nothing was saved."
    ),
    "sighting": gettext_lazy(
        "%(who)s changed this sighting at %(when)s; reload to see the changes. Nothing was saved."
    ),
    "individual": gettext_lazy(
        "%(who)s changed this individual at %(when)s; reload to see the changes. Nothing was saved."
    ),
}
_MEANWHILE = {
    "event": gettext_lazy(
        "Someone changed this event meanwhile; reload to see the changes. Nothing was saved."
    ),
    "sighting": gettext_lazy(
        "Someone changed this sighting meanwhile; reload to see the changes. Nothing was saved."
    ),
    "individual": gettext_lazy(
        "Someone changed this individual meanwhile; reload to see the changes. Nothing was saved."
    ),
}


class StaleVersion(ReviewError):
    """Someone else saved the record after the form was opened: nothing was written."""

    code = "conflict"

    def __init__(self, *, what: str, who: str | None, when: datetime | None, version: int) -> None:
        self.what = what
        self.who = who
        self.when = when
        self.version = version
        at = formats.time_format(timezone.localtime(when), "H:i") if when else ""
        if who and at:
            message = str(_BY_WHOM[what] % {"who": who, "when": at})
        else:
            message = str(_MEANWHILE[what])
        super().__init__(message)


class OverrideRequired(ReviewError):
    """The confirmation goes against the matcher and was not marked as deliberate."""

    code = "override_required"


class VersionRequired(ReviewError):
    """A write of a record that two people can edit came without the version it was read at."""

    code = "version_required"


VERSION_REQUIRED = gettext_lazy(
    'Send the version of the record you read (its "version" field): without it this '
    "change could overwrite someone else's. Nothing was saved."
)


def required_version(version: int | None) -> int:
    """Return the version a write was read at; refuse a write that did not send one."""
    if version is None:
        raise VersionRequired(str(VERSION_REQUIRED))
    return version


class EventClaimed(ReviewError):
    """Another scientist is reviewing the event right now."""

    code = "claimed"

    def __init__(self, *, who: str, since: datetime) -> None:
        self.who = who
        self.since = since
        at = formats.time_format(timezone.localtime(since), "H:i")
        super().__init__(
            _("%(who)s is reviewing this event (since %(when)s); choose another one.")
            % {"who": who, "when": at}
        )
