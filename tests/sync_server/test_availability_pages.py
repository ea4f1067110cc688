"""Availability answers say when they are cut: ``truncated`` and a cursor to continue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from tests.sync_server.booking_setup import FIRST_DAY, Booked, seed_booked
from tests.sync_server.conftest import Tenants

API = "/api/v1/availability"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def _params(booked: Booked, **extra: object) -> dict[str, object]:
    return {"clinic_id": booked.clinic.clinic_id, "appointment_type_id": booked.clinic.type_id,
            "from": FIRST_DAY.isoformat(),
            "to": (FIRST_DAY + timedelta(days=1)).isoformat(), **extra}


def test_a_cut_answer_says_so_and_its_pages_add_up_to_the_whole(
    client: TestClient, booked: Booked,
) -> None:
    whole = client.get(API, headers=booked.reception, params=_params(booked)).json()
    assert whole["truncated"] is False and whole["next_cursor"] is None
    assert len(whole["slots"]) > 20

    pages, cursor = [], None
    while True:
        extra = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = client.get(API, headers=booked.reception, params=_params(booked, **extra))
        assert page.status_code == 200, page.text
        pages.append(page.json())
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert [p["truncated"] for p in pages] == [True] * (len(pages) - 1) + [False]
    assert all(len(p["slots"]) == 7 for p in pages[:-1])
    assert [s for p in pages for s in p["slots"]] == whole["slots"]


def test_a_forged_cursor_is_refused_clearly(client: TestClient, booked: Booked) -> None:
    answer = client.get(API, headers=booked.reception,
                        params=_params(booked, cursor="bm90IGEgY3Vyc29y"))
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_cursor"
