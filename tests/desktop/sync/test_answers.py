"""The desk reads the server's pull answers as scheduling.sync_protocol's own values."""

from __future__ import annotations

import pytest

from desktop.sync.answers import parse_pull
from desktop.sync.errors import BadResponse
from scheduling.sync_protocol import ChangeRecord, ConflictRecord, PullResponse, Tombstone


def test_a_pull_page_the_server_writes_reads_back_as_the_same_values() -> None:
    page = PullResponse(
        cursor=12,
        changes=(ChangeRecord("patient", "pat-1", 11, {"id": "pat-1", "given_name": "Ana"}),),
        tombstones=(Tombstone("blockout", "blk-1", 12),),
        last_mutation_id=4,
        conflicts=(ConflictRecord(3, "appointment.book", "PROVIDER_BUSY", "{provider} is busy",
                                  {"provider": "dr-1"}, ({"start": "2026-06-01T09:00:00+00:00"},),
                                  {"patient_id": "pat-1"}),),
        has_more=False,
    )
    assert parse_pull(page.to_json()) == page


def test_a_conflict_that_does_not_say_what_was_tried_leaves_it_to_the_outbox() -> None:
    body = {"cursor": 1, "conflicts": [{"mutation_id": 2, "code": "X", "message_id": "m"}]}
    (conflict,) = parse_pull(body).conflicts
    assert conflict.args is None and conflict.name == ""


def test_a_pull_answer_without_a_cursor_is_a_bad_response() -> None:
    with pytest.raises(BadResponse):
        parse_pull({"changes": []})
