"""The hub's HTTP API (FastAPI)."""

from hub.api.app import create_app

__all__ = ["create_app"]
