"""Records that must outlive the rows they describe: exact-location access, API tokens, history.

The change history of users lives here too (a django-simple-history model
registered for Django's User), so that every account and role change is on
record with who and when; parks and park memberships keep theirs in traps.
"""

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history import register


class LocationAccessLog(models.Model):
    """One time exact station coordinates left the registry: to whom, of which park, how."""

    class What(models.TextChoices):
        PAGE = "page", _("page")
        EXPORT = "export", _("export")
        API = "api", _("API")
        PHOTO = "photo", _("photo with GPS position")

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    # Kept as text as well, so the record stays readable after a user or park is deleted.
    username = models.CharField(_("user name"), max_length=150)
    # By name: the registry's apps depend on this one, never the other way round.
    park = models.ForeignKey(
        "traps.Park",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("park"),
    )
    park_code = models.CharField(_("park code"), max_length=40)
    what = models.CharField(_("what"), max_length=10, choices=What.choices)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("exact location access")
        verbose_name_plural = _("exact location accesses")
        indexes = [
            models.Index(fields=["park", "at"], name="security_locaccess_park_idx"),
            models.Index(fields=["user", "at"], name="security_locaccess_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.username} · {self.park_code} · {self.get_what_display()}"


class ApiToken(models.Model):
    """A time-limited key for scripts; only its SHA-256 is stored, the key is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    # The first characters of the key, so a person can tell their tokens apart.
    prefix = models.CharField(_("starts with"), max_length=8, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="api_token_expires_after_creation"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or self.user})"

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()


# The password hash never goes into the history, and last_login changes are
# not changes of the account (see apps.AccountsConfig.ready). Roles are groups,
# so group changes are recorded with the user.
register(User, app=__package__, excluded_fields=["password", "last_login"], m2m_fields=["groups"])
