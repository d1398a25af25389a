"""Signals other apps listen to, so that leopards never imports the apps built on it."""

from django.dispatch import Signal

# Sent after confirmed identifications changed, with park_years: a set of
# (park id, year in the park's time zone) whose figures may have changed, and
# sighting_ids: the sightings that changed. The census listens and recounts the
# stations and years of those sightings.
identifications_changed = Signal()
