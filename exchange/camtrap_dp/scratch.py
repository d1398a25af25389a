"""An import's notes on disk: which photo each mediaID became, which event each eventID.

A package of 100,000 media cannot be held in memory row by row, yet an observation
names its media and its event by the package's identifiers, and an event's span is
known only once every observation naming it has been read. The importer keeps these
notes in a SQLite file beside the unpacked package (whatever database the registry
uses), so that its memory stays that of one batch of rows, whatever the package's size.
"""

import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def _micros(value: datetime) -> int:
    # Exact, unlike a float timestamp, so that min and max give back the same instant.
    return (value - EPOCH) // MICROSECOND


def _instant(micros: int) -> datetime:
    return EPOCH + micros * MICROSECOND


class Scratch:
    """The notes of one import, in a SQLite file deleted with its folder."""

    def __init__(self, folder: Path) -> None:
        self.db = sqlite3.connect(folder / "import-scratch.sqlite3")
        self.db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE media (id TEXT PRIMARY KEY, photo INTEGER NOT NULL);
            CREATE TABLE spans (
                dep TEXT NOT NULL, eid TEXT NOT NULL, start INTEGER, end INTEGER, media TEXT
            );
            CREATE TABLE events (
                grp INTEGER PRIMARY KEY, dep TEXT NOT NULL, eid TEXT NOT NULL,
                start INTEGER NOT NULL, end INTEGER NOT NULL, event INTEGER
            );
            CREATE TABLE created_events (event INTEGER PRIMARY KEY);
            """
        )

    def close(self) -> None:
        self.db.close()

    # Media ------------------------------------------------------------------------

    def media_add(self, pairs: Iterable[tuple[str, int]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO media VALUES (?, ?)", pairs)

    def photos_of(self, media_ids: Iterable[str]) -> dict[str, int]:
        """Return the photo each of these mediaIDs became (one query)."""
        ids = list(set(media_ids))
        found: dict[str, int] = {}
        # SQLite takes up to 32,766 parameters; a batch is far smaller.
        for start in range(0, len(ids), 10_000):
            part = ids[start : start + 10_000]
            marks = ",".join("?" * len(part))
            found.update(
                self.db.execute(f"SELECT id, photo FROM media WHERE id IN ({marks})", part)
            )
        return found

    # Events -----------------------------------------------------------------------

    def span_add(self, rows: Iterable[tuple[str, str, datetime, datetime, str | None]]) -> None:
        """Note an observation's event: deploymentID, eventID, start, end and mediaID."""
        self.db.executemany(
            "INSERT INTO spans VALUES (?, ?, ?, ?, ?)",
            ((d, e, _micros(s), _micros(t), m) for d, e, s, t, m in rows),
        )

    def events_gather(self) -> int:
        """Give each (deploymentID, eventID) its span over every observation; return how many.

        Events are numbered by deployment and start, so that a run of them covers a
        short stretch of each deployment's time.
        """
        self.db.executescript(
            """
            CREATE INDEX spans_event ON spans (dep, eid);
            INSERT INTO events (dep, eid, start, end)
                SELECT dep, eid, MIN(start), MAX(end) FROM spans
                GROUP BY dep, eid ORDER BY dep, MIN(start), eid;
            CREATE INDEX events_key ON events (dep, eid);
            """
        )
        return self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def event_groups(self, size: int) -> Iterator[list[tuple[int, str, str, datetime, datetime]]]:
        """Yield the package's events in runs of `size`: number, deploymentID, eventID, span."""
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT grp, dep, eid, start, end FROM events WHERE grp > ? ORDER BY grp LIMIT ?",
                (last, size),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [(g, d, e, _instant(s), _instant(t)) for g, d, e, s, t in rows]

    def members(self, first: int, last: int) -> dict[int, list[int]]:
        """Return the photos the observations of events first..last name, by event number."""
        found: dict[int, list[int]] = {}
        query = """
            SELECT DISTINCT events.grp, media.photo FROM events
            JOIN spans ON spans.dep = events.dep AND spans.eid = events.eid
            JOIN media ON media.id = spans.media
            WHERE events.grp BETWEEN ? AND ? ORDER BY events.grp, media.photo
        """
        for group, photo in self.db.execute(query, (first, last)):
            found.setdefault(group, []).append(photo)
        return found

    def events_set(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Record the registry's event of each event number."""
        self.db.executemany("UPDATE events SET event = ? WHERE grp = ?", pairs)

    def events_of(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Return the registry's event of each (deploymentID, eventID)."""
        found = {}
        for dep, eid in set(keys):
            row = self.db.execute(
                "SELECT event FROM events WHERE dep = ? AND eid = ?", (dep, eid)
            ).fetchone()
            if row is not None and row[0] is not None:
                found[(dep, eid)] = row[0]
        return found

    def created_add(self, events: Iterable[int]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO created_events VALUES (?)", ((e,) for e in events)
        )

    def created_among(self, events: Iterable[int]) -> set[int]:
        """Return which of these events this import created."""
        ids = list(set(events))
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        query = f"SELECT event FROM created_events WHERE event IN ({marks})"
        return {row[0] for row in self.db.execute(query, ids)}
