"""Time what serving a photo original adds to reading it: the position check and the rebuild.

A 4000x3000 JPEG with sensor-like grain (camera EXIF with GPS, an XMP packet) and the
same pixels as a PNG with text chunks are written to a temporary folder. For each,
the baseline reads the file from disk (what serving any original costs at least);
the contenders add what the photo view does: has_location (someone with exact
rights: is this an exact-location access?) and without_location (everyone else:
the copy rebuilt from the allow-list). Best of --repeat runs, in milliseconds.

    python bench/photo_metadata.py [--repeat 7]
"""

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import piexif
from PIL import Image, PngImagePlugin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accounts import exif

XMP = (
    b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><rdf:Description "
    b'exif:GPSLatitude="43,7.39N" exif:GPSLongitude="131,39.255E"/></x:xmpmeta>'
)


def photos(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(7)
    pixels = rng.normal(110, 35, (3000, 4000, 3)).clip(0, 255).astype("uint8")
    image = Image.fromarray(pixels)
    block = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: b"Reconyx", piexif.ImageIFD.Model: b"HyperFire 2"},
            "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 22:15:00"},
            "GPS": {piexif.GPSIFD.GPSLatitude: ((43, 1), (7, 1), (2345, 100))},
        }
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=block)
    data = out.getvalue()
    segment = b"\xff\xe1" + (len(XMP) + 2).to_bytes(2, "big") + XMP
    jpeg = folder / "photo.jpg"
    jpeg.write_bytes(data[:2] + segment + data[2:])
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP.decode("latin-1"), zip=True)
    png = folder / "photo.png"
    image.save(png, "PNG", pnginfo=info, compress_level=1)
    return {"JPEG": jpeg, "PNG": png}


def best(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for kind, path in photos(Path(folder)).items():
            size = path.stat().st_size / 1e6
            baseline = best(path.read_bytes, args.repeat)
            located = best(lambda p=path: exif.has_location(p.read_bytes()), args.repeat)
            rebuilt = best(lambda p=path: exif.without_location(p.read_bytes()), args.repeat)
            print(f"{kind} {size:.1f} MB")
            print(f"  read the file (baseline)          {baseline:8.1f} ms")
            print(f"  read + has_location               {located:8.1f} ms")
            print(f"  read + without_location (rebuild) {rebuilt:8.1f} ms")


if __name__ == "__main__":
    main()
