"""The grid and beat registry (网格 / 警格): a reference table loaded from a file, and the
row rules ingest holds records to against it (``GridRegistry.check``)."""

from hub.grids.errors import GridRegistryError, RegistryInvalid
from hub.grids.file import (
    load_registry_file,
    parse_registry,
    registry_document,
    write_registry_file,
)
from hub.grids.model import (
    BASIC,
    CATEGORIES,
    DEDICATED,
    DEFAULT_STRUCTURE,
    Beat,
    Grid,
    GridRegistry,
    Structure,
)
from hub.grids.scope import expand_scope, store_scope
from hub.grids.stored import load_registry, registry_info, replace_registry

__all__ = [
    "BASIC",
    "CATEGORIES",
    "DEDICATED",
    "DEFAULT_STRUCTURE",
    "Beat",
    "Grid",
    "GridRegistry",
    "GridRegistryError",
    "RegistryInvalid",
    "Structure",
    "expand_scope",
    "load_registry",
    "load_registry_file",
    "parse_registry",
    "registry_document",
    "registry_info",
    "replace_registry",
    "store_scope",
    "write_registry_file",
]
