"""A desk older than the server: "update required" with the server's download link, outbox kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.store import outbox
from desktop.sync.errors import UpdateRequired
from sync_server.core.config import Settings
from tests.desktop.sync.conftest import Desk
from tests.e2e.server_side import ServerThread
from tests.sync_server.conftest import make_settings

DOWNLOAD = "https://downloads.clinic.example/clinicdesk/"


@pytest.fixture(scope="module")
def server_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_settings(database_url, tmp_path_factory.mktemp("server"))
    return settings.model_copy(update={"desk_download_url": DOWNLOAD})


def test_a_too_old_desk_is_shown_the_download_link_and_keeps_its_outbox(
    desk: Desk, server: ServerThread, tmp_path: Path,
) -> None:
    desk.book(0)
    with desk.store.session() as session:
        waiting = [entry.mutation_id for entry in outbox.pending(session)]
    assert waiting

    with pytest.raises(UpdateRequired) as raised:
        desk.new_client(desk.client.config, protocol_version=0).sync_once()

    assert raised.value.download_url == DOWNLOAD
    assert str(raised.value).startswith("Update required")
    assert DOWNLOAD in str(raised.value)
    assert not raised.value.transient
    with desk.store.session() as session:
        assert [entry.mutation_id for entry in outbox.pending(session)] == waiting
