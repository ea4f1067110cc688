"""Appointment records kept between requests, keyed by their row's version (PostgreSQL).

A refusal's alternatives are searched over two weeks of its resources' appointments:
in a busy calendar some hundreds of rows, each mapped into a record for every refusal,
most of the refusal's time. The rows seldom change between two refusals, so this
process keeps each mapped record with the version of the row it came from: its ``xmin``
(the transaction that wrote it, whichever code wrote it) and ``ctid`` (a second write in
the same transaction keeps the ``xmin`` but puts the row elsewhere). A row read again at
the same version is the same row, and its kept record is used; any write gives the row a
new version, and it is mapped again.

The records are immutable and hold what the rows hold; they live in this process's
memory only (never written, logged or sent anywhere), at most ``LIMIT`` of them, the
oldest dropped first.
"""

from __future__ import annotations

import threading

from scheduling import model

#: Records kept per process: two weeks of 50 providers' days with room to spare (a record
#: takes about a kilobyte).
LIMIT = 20_000


class KeptAppointments:
    """``appointment id -> (row version, record)``, safe to use from the request threads."""

    def __init__(self, limit: int = LIMIT) -> None:
        self._limit = limit
        self._records: dict[str, tuple[str, model.Appointment]] = {}
        self._lock = threading.Lock()

    def get(self, organization_id: str, appointment_id: str,
            version: str | None) -> model.Appointment | None:
        """The kept record of the row at ``version``, or None (never kept, or written since)."""
        kept = self._records.get(appointment_id)
        if kept is None or version is None or kept[0] != version \
                or kept[1].organization_id != organization_id:
            return None
        return kept[1]

    def put(self, version: str | None, record: model.Appointment) -> None:
        if version is None:
            return
        with self._lock:
            records = self._records
            records.pop(record.id, None)  # re-inserted last: the newest
            records[record.id] = (version, record)
            if len(records) > self._limit:
                for old in list(records)[: len(records) - self._limit // 2]:
                    del records[old]

    def __len__(self) -> int:
        return len(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


KEPT_APPOINTMENTS = KeptAppointments()
