"""Strings that Django's own code translates at run time, worded by the registry's catalogues."""

from django.utils.translation import gettext_noop

# Django's forms end every label with _(":"), and its Chinese catalogue keeps the ASCII
# colon; listing the string here puts it in ours, which takes precedence, so Chinese
# labels end with the full-width colon.
DJANGO_STRINGS = (gettext_noop(":"),)
