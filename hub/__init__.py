"""The hub: store, ingest, audit, auth, API, CLI; the only package that knows the database
and the web framework."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("police-grid-hub")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
