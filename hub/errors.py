"""Errors of the hub.

HubError
 ├── ConfigError        no hub home, unreadable config or key file
 │    └── SchemaBehind  the database is not at the schema revision this hub needs
 └── KeyringError       a value was encrypted under a key this keyring does not hold,
                        or it fails authentication (tampered, moved to another column)
"""


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    pass


class SchemaBehind(ConfigError):
    pass


class KeyringError(HubError):
    pass
