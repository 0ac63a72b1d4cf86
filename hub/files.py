"""Files the hub writes hold personal data or secrets: they are private to its user.

The hub home is a directory of mode 0700 and every file the hub writes in it is 0600:
the SQLite database (and so its ``-wal`` and ``-shm`` files, which SQLite creates with the
database file's permissions), reports, ``sources.yaml`` (a partner's API key),
``config.json`` and ``demo-clients.json``. A file is written whole or not at all: the text
goes to a private temporary file beside it, which then replaces the target, so a reader
never sees half a file and a crash never leaves a readable copy behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700, or tighten it to 0700 if looser."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    tighten(path)
    return path


def tighten(path: Path) -> bool:
    """Take group and other bits off ``path`` (a file or a folder's own mode) if it exists;
    True when it was looser."""
    if not path.exists():
        return False
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return False
    path.chmod(mode & ~0o077)
    return True


def write_private(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` atomically as a 0600 file (the folder made 0700 if new)."""
    if not path.parent.exists():
        private_dir(path.parent)
    payload = data.encode(encoding) if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:  # mkstemp creates the file 0600
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def private_sqlite_file(url: str) -> None:
    """For a file-backed SQLite URL: create the database file 0600 before SQLite does
    (SQLite would create it 0644 under the usual umask and give its ``-wal`` and ``-shm``
    files the same mode), or tighten an existing one and its companions. Other URLs: no-op."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    database = Path(parsed.database)
    if database.as_posix().startswith("file:"):
        return  # a URI filename: SQLite's own syntax, left as given
    if not database.parent.exists():
        private_dir(database.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        tighten(path)
