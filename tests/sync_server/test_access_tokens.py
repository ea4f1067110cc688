"""Access tokens are standard JWTs: HS256 only, ``kid`` for key rotation, aud/iat/exp checked.

Tokens are read by ``GET /api/v1/auth/me`` of real apps; a rotation is two app
instances on one database, as behind a load balancer.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient

from sync_server.app import create_app
from sync_server.core.security import AUDIENCE, key_id
from tests.sync_server.conftest import Clock, OrgUser, Tenants, make_settings

OLD_KEY = "old-signing-key-0123456789-abcdefghijkl"
NEW_KEY = "new-signing-key-0123456789-mnopqrstuvwx"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
                      ).status_code


def _token(client: TestClient, user: OrgUser) -> str:
    response = client.post("/api/v1/auth/login", json=user.login_body())
    assert response.status_code == 200
    return str(response.json()["access_token"])


@pytest.fixture
def user(tenants: Tenants) -> OrgUser:
    return tenants.organization("administrator")


def _app(database_url: str, tmp_path: Path, clock: Clock, key: str,
         accepted: list[str] | None = None) -> TestClient:
    settings = make_settings(database_url, tmp_path, secret_key=key,
                             accepted_secret_keys=accepted or [])
    return TestClient(create_app(settings, clock=clock))


def test_a_token_is_an_hs256_jwt_with_kid_audience_and_lifetime(
    client: TestClient, user: OrgUser,
) -> None:
    token = _token(client, user)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256" and header["kid"] == key_id(
        b"test-signing-key-not-for-production")
    assert claims["aud"] == AUDIENCE and claims["sub"] == user.user_id
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert _me(client, token) == 200


def test_an_unsigned_alg_none_token_is_refused(client: TestClient, user: OrgUser) -> None:
    claims = jwt.decode(_token(client, user), options={"verify_signature": False})
    header = {"alg": "none", "typ": "JWT",
              "kid": key_id(b"test-signing-key-not-for-production")}
    assert _me(client, f"{_b64(header)}.{_b64(claims)}.") == 401


def test_a_token_signed_with_another_key_or_algorithm_is_refused(
    client: TestClient, user: OrgUser,
) -> None:
    claims = jwt.decode(_token(client, user), options={"verify_signature": False})
    kid = key_id(b"test-signing-key-not-for-production")
    forged = jwt.encode(claims, "a-key-the-server-never-had-0123456789", algorithm="HS256",
                        headers={"kid": kid})
    other_algorithm = jwt.encode(claims, "test-signing-key-not-for-production",
                                 algorithm="HS512", headers={"kid": kid})
    assert _me(client, forged) == 401
    assert _me(client, other_algorithm) == 401


def test_a_token_for_another_audience_is_refused(client: TestClient, user: OrgUser) -> None:
    claims = jwt.decode(_token(client, user), options={"verify_signature": False})
    key = "test-signing-key-not-for-production"
    foreign = jwt.encode({**claims, "aud": "some-other-service"}, key, algorithm="HS256",
                         headers={"kid": key_id(key.encode())})
    assert _me(client, foreign) == 401


def test_an_expired_token_is_refused(client: TestClient, user: OrgUser, clock: Clock) -> None:
    token = _token(client, user)
    clock.advance(timedelta(minutes=14, seconds=59))
    assert _me(client, token) == 200
    clock.advance(timedelta(seconds=1))
    assert _me(client, token) == 401


def test_a_rotated_key_keeps_old_tokens_valid_during_the_rollover_only(
    database_url: str, tmp_path: Path, clock: Clock, user: OrgUser,
) -> None:
    # Before: every instance signs with the old key. Step 1: instances learn the new key.
    with _app(database_url, tmp_path, clock, OLD_KEY) as before:
        old_token = _token(before, user)
    with _app(database_url, tmp_path, clock, OLD_KEY, [NEW_KEY]) as learning:
        assert _me(learning, old_token) == 200
    # Step 2: instances sign with the new key and still accept the old one.
    with _app(database_url, tmp_path, clock, NEW_KEY, [OLD_KEY]) as rolled, \
            _app(database_url, tmp_path, clock, OLD_KEY, [NEW_KEY]) as not_yet:
        new_token = _token(rolled, user)
        assert jwt.get_unverified_header(new_token)["kid"] == key_id(NEW_KEY.encode())
        assert _me(rolled, old_token) == 200
        assert _me(not_yet, new_token) == 200  # an instance not yet switched
    # Step 3 (after the token lifetime): the old key is dropped, its tokens stop working.
    with _app(database_url, tmp_path, clock, NEW_KEY) as after:
        assert _me(after, new_token) == 200
        assert _me(after, old_token) == 401
