"""Writes for individuals and sightings, one module per idea; import from the submodule."""
