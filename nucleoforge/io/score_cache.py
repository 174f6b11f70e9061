"""A persistent cache of SpliceAI INFO entries: a variant scored once is never run through the model again.

**Why SQLite.** It ships with Python (no new dependency), a cache is one file that can be
copied or shared, and several processes may write it at once: SQLite serialises writers
with a file lock, and in WAL mode readers never block. DuckDB, the other candidate, lets only
one process open a database for writing, which is exactly the case a shared cache must handle.

**Layout.** ``settings(id, key)``: one row per distinct scoring setting — the JSON of the
annotation identity, the reference identity, ``-D``, ``-M``, calibration and the model's weight
checksum; ``entries(setting, chrom, pos, ref, alt, value)``: per ALT allele of a record, the
INFO entries it produced joined by a tab (one per overlapping gene; an empty string when the
ALT gives none). Keys are unique, writes are ``INSERT OR IGNORE``, so two
processes that score the same variant store it once and never corrupt each other.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "scores.sqlite")
>>> with ScoreCache(path, {"model": "abc", "distance": 50}) as cache:
...     cache.store([(("22", 100, "A", "G"), ["G|TANGO2|0.00|0.01|0.00|0.00|-3|12|0|5"])])
...     cache.lookup([("22", 100, "A", "G"), ("22", 101, "C", "T")])
{('22', 100, 'A', 'G'): ['G|TANGO2|0.00|0.01|0.00|0.00|-3|12|0|5']}
"""

from __future__ import annotations


import json
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nucleoforge.errors import NucleoforgeError

__all__ = ["ScoreCache", "CacheError", "check_cache_path"]

#: format of the cache file, kept in ``PRAGMA user_version``
_FORMAT = 1
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS settings (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS entries (setting INTEGER NOT NULL REFERENCES settings(id), chrom TEXT NOT NULL, "
    "pos INTEGER NOT NULL, ref TEXT NOT NULL, alt TEXT NOT NULL, value TEXT NOT NULL, "
    "PRIMARY KEY (setting, chrom, pos, ref, alt)) WITHOUT ROWID",
)
#: keys per SELECT (SQLite's default limit on bound parameters is 32,766)
_LOOKUP_BATCH = 500

Key = tuple[str, int, str, str]


class CacheError(NucleoforgeError):
    """The cache file cannot be used (not SQLite, another format, unwritable)."""


class ScoreCache:
    """The entries of one scoring setting in a cache file (created on first use).

    ``setting``: everything besides the variant the entries depend on (JSON-serialisable);
    entries stored under one setting are never returned for another. ``hits`` / ``stored`` count
    this process's lookups that were found and entries it added.
    """

    def __init__(self, path: str | os.PathLike, setting: Mapping[str, Any], *, timeout: float = 60.0,
                 readonly: bool = False) -> None:
        self.path, self.readonly = Path(path), readonly
        if self.path.is_dir():
            raise CacheError(f"--cache {self.path}: is a folder, expected a cache file (created if missing)")
        if not self.path.parent.is_dir():
            raise CacheError(f"--cache {self.path}: the folder {self.path.parent} does not exist")
        self.hits = self.stored = self.lookups = 0
        key = json.dumps(dict(setting), sort_keys=True, separators=(",", ":"))
        try:
            # any thread may open it and another use it, one at a time (the server builds a scorer in a
            # request handler and stores from its worker thread)
            self._db = _open_readonly(self.path, timeout) if readonly else sqlite3.connect(
                str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = %d" % int(timeout * 1000))
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and (version != _FORMAT or not {"settings", "entries"} <= tables):
                raise CacheError(f"--cache {self.path}: an SQLite file that is not a nucleoforge score cache "
                                 f"(format {version}, tables {', '.join(sorted(tables))}); choose another path")  # fmt: skip
            if readonly:  # no schema, no settings row: a setting never stored has no entries (id None)
                row = self._db.execute("SELECT id FROM settings WHERE key = ?", (key,)).fetchone() if tables else None
                self.setting: int | None = row[0] if row else None
                return
            self._db.execute("PRAGMA journal_mode = WAL")
            with self._write():
                for statement in _SCHEMA:
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {_FORMAT}")
                self._db.execute("INSERT OR IGNORE INTO settings (key) VALUES (?)", (key,))
            self.setting = self._db.execute("SELECT id FROM settings WHERE key = ?", (key,)).fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise CacheError(f"--cache {self.path}: cannot be used as an SQLite cache ({exc})") from None

    def _write(self) -> Any:
        db = self._db

        class _Tx:
            def __enter__(self) -> None:
                db.execute("BEGIN IMMEDIATE")  # take the write lock now (waits up to the busy timeout)

            def __exit__(self, exc_type: Any, *rest: Any) -> None:
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()

    def lookup(self, keys: Iterable[Key]) -> dict[Key, list[str]]:
        """The stored entries of those ``(chrom, pos, ref, alt)`` keys that are in the cache."""
        wanted = list(dict.fromkeys(keys))
        found: dict[Key, list[str]] = {}
        for i in range(0, len(wanted) if self.setting is not None else 0, _LOOKUP_BATCH):
            part = wanted[i : i + _LOOKUP_BATCH]
            where = " OR ".join(["(chrom = ? AND pos = ? AND ref = ? AND alt = ?)"] * len(part))
            args = [self.setting, *(x for k in part for x in (k[0], int(k[1]), k[2], k[3]))]
            for chrom, pos, ref, alt, value in self._db.execute(
                f"SELECT chrom, pos, ref, alt, value FROM entries WHERE setting = ? AND ({where})", args
            ):
                found[(chrom, pos, ref, alt)] = value.split("\t") if value else []
        self.lookups += len(wanted)
        self.hits += len(found)
        return found

    def store(self, items: Sequence[tuple[Key, Sequence[str]]]) -> None:
        """Add entries (one transaction; keys already present are left as they are); a read-only
        cache stores nothing."""
        if not items or self.readonly:
            return
        rows = [(self.setting, k[0], int(k[1]), k[2], k[3], "\t".join(v)) for k, v in items]
        with self._write():
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?, ?)", rows)
            self.stored += self._db.total_changes - before

    def __len__(self) -> int:
        """Entries stored under this setting (all processes)."""
        if self.setting is None:
            return 0
        return int(self._db.execute("SELECT COUNT(*) FROM entries WHERE setting = ?", (self.setting,)).fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ScoreCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_readonly(path: Path, timeout: float) -> sqlite3.Connection:
    """A read-only connection (usable from any thread, one at a time). A WAL cache in a folder
    this process cannot write has no ``-shm`` file to share with writers: it is then opened as
    immutable (no locking; fine while nobody writes it)."""
    from urllib.parse import quote

    if not path.exists():
        raise CacheError(f"--cache {path}: does not exist, and its folder is not writable (so it cannot be created)")
    uri = "file:" + quote(str(path.resolve()))
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA user_version").fetchone()
    except sqlite3.OperationalError:  # 'unable to open database file': no -shm and no right to create it
        db.close()
        db = sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=timeout, isolation_level=None, check_same_thread=False)
    return db


def check_cache_path(path: str | os.PathLike) -> bool:
    """Whether the cache file ``path`` can be written (``True``: it is created if missing) or only
    read (``False``: its folder or the file is not writable); :class:`CacheError` when it can be
    neither (a folder, a missing folder, not SQLite, not a score cache)."""
    p = Path(path)
    if p.is_dir():
        raise CacheError(f"--cache {p}: is a folder, expected a cache file (created if missing)")
    if not p.parent.is_dir():
        raise CacheError(f"--cache {p}: the folder {p.parent} does not exist")
    writable = os.access(p.parent, os.W_OK) and (not p.exists() or os.access(p, os.W_OK))
    if p.exists() or not writable:
        ScoreCache(p, {}, readonly=True).close()  # reads its header and tables: raises if it is not a score cache
    return writable
