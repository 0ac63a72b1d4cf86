"""The hub's HTTP API. For now only its health; every data endpoint arrives together with
OAuth and the sharing policies, because the hub serves nothing that no policy grants."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

from hub import __version__


class Health(BaseModel):
    status: str
    version: str


def create_app() -> FastAPI:
    app = FastAPI(
        title="Police–community data-sharing hub",
        version=__version__,
        description="One query API over police and grid records, within each partner's policy.",
    )

    @app.get("/health", tags=["operations"])
    def health() -> Health:
        return Health(status="ok", version=__version__)

    return app
