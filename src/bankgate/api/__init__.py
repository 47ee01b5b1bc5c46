"""The REST API (`/api/v1`, OpenAPI at `/openapi.json`): thin routes over services."""

from bankgate.api.app import create_app

__all__ = ["create_app"]
