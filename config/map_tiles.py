"""The optional base map: check a tile server's address and name its host for the CSP.

Read by settings.py, so nothing here imports Django's settings.
"""

import math
from urllib.parse import urlsplit

from environ import ImproperlyConfigured

SUBDOMAINS = "{s}"


def tile_image_sources(url: str) -> list[str]:
    """Return the img-src sources a tile URL template needs (none when no URL is set)."""
    if not url:
        return []
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or not host:
        raise ImproperlyConfigured(
            "MAP_TILE_URL must be an http(s) address such as "
            "https://tile.example.org/{z}/{x}/{y}.png"
        )
    if not all(part in url for part in ("{z}", "{x}", "{y}")):
        raise ImproperlyConfigured("MAP_TILE_URL must contain {z}, {x} and {y}.")
    # Subdomains ({s}.tile.example.org) become a CSP wildcard, which only a whole
    # leftmost label may be.
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if netloc.startswith(SUBDOMAINS + "."):
        netloc = "*" + netloc[len(SUBDOMAINS) :]
    if "{" in netloc or "}" in netloc:
        raise ImproperlyConfigured(
            "MAP_TILE_URL may hold {s} only as the whole first part of its host name."
        )
    return [f"{parts.scheme}://{netloc}"]


def tile_max_zoom(cell_degrees: float) -> int:
    """Return the finest tile zoom whose tiles are larger than a generalisation cell.

    Which tiles a browser asks for tells the tile server where the map looks, so a
    map of generalised positions never asks for tiles finer than its cells. A tile
    spans 360 / 2**z degrees of longitude and, in web Mercator, cos(latitude) times
    that of latitude: one zoom level coarser than the longitude bound keeps a tile
    taller than a cell up to 73 degrees north.
    """
    return max(0, math.floor(math.log2(360 / cell_degrees)) - 1)
