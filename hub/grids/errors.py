"""Errors of the grid registry.

GridRegistryError (HubError)
 └── RegistryInvalid    a registry file (or one of its entries) breaks a rule: carries the
                        entry (a grid or beat code, or None for the file) and the field
"""

from __future__ import annotations

from hub.errors import HubError


class GridRegistryError(HubError):
    pass


class RegistryInvalid(GridRegistryError, ValueError):
    def __init__(self, record: str | None, field: str | None, message: str) -> None:
        self.record = record
        self.field = field
        self.message = message
        where = " ".join(part for part in (record, field) if part)
        super().__init__(f"{where}: {message}" if where else message)
