"""Why a review or catalogue write was refused, with a message a scientist can act on."""

from datetime import datetime

from django.utils import formats, timezone
from django.utils.translation import gettext as _


class ReviewError(Exception):
    """A write that the catalogue's rules do not allow; the message says why."""

    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StaleVersion(ReviewError):
    """Someone else saved the record after the form was opened: nothing was written."""

    code = "conflict"

    def __init__(self, *, what: str, who: str | None, when: datetime | None, version: int) -> None:
        self.who = who
        self.when = when
        self.version = version
        at = formats.time_format(timezone.localtime(when), "H:i") if when else ""
        if who and at:
            message = _(
                "%(who)s changed this %(what)s at %(when)s; reload to see the changes. "
                "Nothing was saved."
            ) % {"who": who, "what": what, "when": at}
        else:
            message = _(
                "Someone changed this %(what)s meanwhile; reload to see the changes. "
                "Nothing was saved."
            ) % {"what": what}
        super().__init__(message)


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
