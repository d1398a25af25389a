"""REST representation of the stored census results."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from census.models import CensusResult, DensityRun


class CensusResultSerializer(serializers.ModelSerializer):
    park_code = serializers.CharField(
        source="park.code",
        read_only=True,
        allow_null=True,
        default=None,
        help_text=_("Empty for the whole landscape."),
    )
    rai = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text=_("Independent detections per 100 trap-nights."),
    )
    stations = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField()),
        read_only=True,
        help_text=_("Per station: its id, then its effort figures."),
    )
    individual_rows = serializers.ListField(
        child=serializers.DictField(), read_only=True, help_text=_("The individuals seen.")
    )

    class Meta:
        model = CensusResult
        fields = [
            "id",
            "park",
            "park_code",
            "year",
            "reference_date",
            "individuals",
            "adults",
            "subadults",
            "kittens",
            "age_unknown",
            "females",
            "males",
            "sex_unknown",
            "new",
            "returning",
            "left_only",
            "right_only",
            "minimum",
            "known_alive",
            "several_parks",
            "trap_nights",
            "stations_active",
            "detections",
            "rai",
            "stations",
            "individual_rows",
            "computed_at",
        ]
        read_only_fields = fields


class DensityRunSerializer(serializers.ModelSerializer):
    park_code = serializers.CharField(source="park.code", read_only=True)
    result = serializers.DictField(
        read_only=True,
        help_text=_(
            "Every figure of the fit: D per ha and per 100 km2 with SE and interval, g0 or "
            "lambda0, sigma, N, log-likelihood, AIC, mask, buffer check, reason."
        ),
    )

    class Meta:
        model = DensityRun
        fields = [
            "id",
            "park",
            "park_code",
            "start",
            "end",
            "occasion_days",
            "detectfn",
            "buffer_m",
            "status",
            "progress",
            "density_per_100km2",
            "lcl_per_100km2",
            "ucl_per_100km2",
            "reason",
            "result",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields
