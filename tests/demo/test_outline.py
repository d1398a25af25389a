"""The demo parks' outlines hold every station the demo draws in them."""

import random

import numpy as np
import pytest

from census.density.mask import inside
from demo.landscape import PARKS, _boundary


@pytest.mark.parametrize("spec", PARKS, ids=lambda spec: spec.code)
def test_demo_outline_holds_the_whole_box_its_stations_are_drawn_from(spec):
    lat0, lat1, lon0, lon1 = spec.box
    draw = random.Random(7)
    points = np.array(
        [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1]]
        + [[draw.uniform(lon0, lon1), draw.uniform(lat0, lat1)] for _ in range(2000)]
    )
    for seed in range(25):
        ring = np.array(_boundary(spec.box, random.Random(seed))["coordinates"][0])
        assert inside(points, ring).all(), (spec.code, seed)
