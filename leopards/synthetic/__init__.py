"""Synthetic leopard coats and camera-trap photos for tests, benchmarks and demos."""

from leopards.synthetic.coats import (
    FLANKS,
    SyntheticPhoto,
    individual_id,
    render_coat,
    render_photo,
    write_dataset,
)

__all__ = [
    "FLANKS",
    "SyntheticPhoto",
    "individual_id",
    "render_coat",
    "render_photo",
    "write_dataset",
]
