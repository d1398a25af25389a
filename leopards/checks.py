"""System checks of the leopards app: what `manage.py check` and bin/run's start report."""

from django.conf import settings
from django.core import checks

from leopards.matching.installed import second_stage_missing


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
