"""The console's settings, in ``config.json`` under ``console`` or from the environment
(``HUB_CONSOLE__REVIEWER=<client id>``).

``reviewer`` names the org the stewards review grid submissions for at the pages: the
registered client (a police station) whose policy grants ``review`` on a kind. A steward's
decision is that org's, taken under its policy and rows, as its own system would take it
through the API; the audit entry and the queue name the steward as the person who took it.
Unset, the review queue page says so and decides nothing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reviewer: str | None = None
    """The client id of the reviewing org the stewards act for at the review queue."""


class ConsoleEnv(BaseModel):
    """``ConsoleSettings``' fields, each optional: what ``HUB_CONSOLE__*`` sets."""

    reviewer: str | None = None
