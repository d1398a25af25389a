"""The registry's OpenAPI schema class: every operation documents the errors it can answer."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import IsAuthenticated

from traps.serializers import ErrorSerializer, ValidationErrorSerializer

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class RegistryAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the JSON errors that config.api_errors gives every view."""

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, response in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code)
        return responses

    def _error_responses(self) -> dict[str, OpenApiResponse]:
        errors = {
            "401": OpenApiResponse(ErrorSerializer, description="No or an expired token."),
            # Unknown or other parks' rows, and pages past the last one.
            "404": OpenApiResponse(ErrorSerializer, description="Not found in your parks."),
        }
        has_query = any(p.get("in") == "query" for p in self._get_parameters())
        if self.method in UNSAFE_METHODS or has_query:
            errors["400"] = OpenApiResponse(
                ValidationErrorSerializer, description="The request or a filter is not valid."
            )
        role_checked = any(
            not isinstance(permission, IsAuthenticated)
            for permission in self.view.get_permissions()
        )
        if self.method in UNSAFE_METHODS or role_checked:
            errors["403"] = OpenApiResponse(
                ErrorSerializer, description="Your role may not do this."
            )
        return errors
