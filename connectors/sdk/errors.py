"""Errors a connector raises; the hub decides by type, never by message.

ConnectorError
 ├── ConfigurationError   the source's config is wrong (unknown column, bad mapping)
 ├── TransientError       worth retrying: timeouts, 503s, dropped connections
 └── FatalError           stop this stream; batches already committed stay committed
"""

from __future__ import annotations


class ConnectorError(Exception):
    def __init__(self, message: str, *, source: str | None = None, stream: str | None = None):
        self.source = source
        self.stream = stream
        where = "/".join(part for part in (source, stream) if part)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigurationError(ConnectorError):
    pass


class TransientError(ConnectorError):
    pass


class FatalError(ConnectorError):
    pass
