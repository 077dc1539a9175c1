"""Accounts and sign-in: Argon2id, cookie sessions with CSRF, bearer tokens, expiry, limits."""

from __future__ import annotations

from fastapi.testclient import TestClient
from starlette.types import ASGIApp

from os1.config import Config
from os1.server import create_app
from os1.server.state import Server
from tests.server.conftest import PASSWORD, bearer, fast_settings, second_client, signup


def test_signup_sets_a_strict_httponly_cookie_and_hashes_with_argon2id(
    client: TestClient, server: Server
) -> None:
    r = client.post("/api/signup", json={"name": "ann", "password": PASSWORD})
    assert r.status_code == 201
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "os1_session=" in cookie
    user = server.accounts.get_user("ann")
    stored = server.auth.password_hash(user.id)
    assert stored is not None and stored.startswith("$argon2id$")
    db_bytes = (server.config.home / "accounts.db").read_bytes()
    assert PASSWORD.encode() not in db_bytes
    assert client.get("/api/me").json()["name"] == "ann"


def test_signup_is_closed_unless_opened(config: Config, chat_backend: object) -> None:
    app = create_app(config, settings=fast_settings(open_signup=False))
    with TestClient(app) as c:
        r = c.post("/api/signup", json={"name": "eve", "password": PASSWORD})
        assert r.status_code == 403
        assert "closed" in r.json()["detail"]
        assert c.get("/api/info").json()["open_signup"] is False


def test_short_password_bad_and_taken_names_are_refused(client: TestClient) -> None:
    assert client.post("/api/signup", json={"name": "ann", "password": "short"}).status_code == 422
    for name in ("a/b", "   ", "tab\there"):
        r = client.post("/api/signup", json={"name": name, "password": PASSWORD})
        assert r.status_code == 422, name
    signup(client, "ann")
    other = TestClient(client.app)
    r = other.post("/api/signup", json={"name": "ANN", "password": PASSWORD})
    assert r.status_code == 409 and "taken" in r.json()["detail"]


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient) -> None:
    signup(client, "ann")
    fresh = TestClient(client.app)
    a = fresh.post("/api/login", json={"name": "ann", "password": "wrong password"})
    b = fresh.post("/api/login", json={"name": "nobody", "password": "wrong password"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()
    ok = fresh.post("/api/login", json={"name": "ann", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["csrf_token"]


def test_cookie_writes_need_the_csrf_token(client: TestClient) -> None:
    csrf = signup(client, "ann")
    del client.headers["x-csrf-token"]
    assert client.post("/api/tokens", json={}).status_code == 403
    assert client.post("/api/tokens", json={}, headers={"x-csrf-token": "nope"}).status_code == 403
    r = client.post("/api/tokens", json={}, headers={"x-csrf-token": csrf})
    assert r.status_code == 201
    assert client.get("/api/me").status_code == 200  # reads need no token


def test_sign_in_from_another_origin_is_refused(client: TestClient) -> None:
    r = client.post(
        "/api/signup",
        json={"name": "ann", "password": PASSWORD},
        headers={"origin": "https://evil.example"},
    )
    assert r.status_code == 403


def test_bearer_tokens_work_without_cookies_and_can_be_revoked(
    client: TestClient, app: ASGIApp
) -> None:
    signup(client, "ann")
    headers = bearer(client, "ann")
    api = second_client(app)
    assert api.get("/api/me", headers=headers).json()["via"] == "bearer"
    assert api.post("/api/tokens", json={"label": "cli"}, headers=headers).status_code == 201
    listed = api.get("/api/tokens", headers=headers).json()
    assert [t["label"] for t in listed] == ["api", "cli"] and "token" not in listed[0]
    assert api.delete(f"/api/tokens/{listed[1]['id']}", headers=headers).status_code == 204
    assert api.delete(f"/api/tokens/{listed[1]['id']}", headers=headers).status_code == 404
    assert api.delete(f"/api/tokens/{listed[0]['id']}", headers=headers).status_code == 204
    assert api.get("/api/me", headers=headers).status_code == 401  # revoked: signed out


def test_invalid_and_expired_tokens_are_401(
    client: TestClient, app: ASGIApp, server: Server
) -> None:
    signup(client, "ann")
    headers = bearer(client, "ann")
    api = second_client(app)
    assert api.get("/api/me", headers={"authorization": "Bearer os1_forged"}).status_code == 401
    assert api.get("/api/me", headers={"authorization": "Basic Zm9vOmJhcg=="}).status_code == 401
    server.accounts.db.execute("UPDATE api_tokens SET expires_at = '2000-01-01T00:00:00+00:00'")
    r = api.get("/api/me", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    server.accounts.db.execute("UPDATE web_sessions SET expires_at = '2000-01-01T00:00:00+00:00'")
    assert client.get("/api/me").status_code == 401


def test_logout_ends_the_session_server_side(client: TestClient) -> None:
    signup(client, "ann")
    stolen = client.cookies.get("os1_session")
    assert client.post("/api/logout").status_code == 204
    replay = TestClient(client.app, cookies={"os1_session": stolen})
    assert replay.get("/api/me").status_code == 401


def test_password_change_and_account_erasure(client: TestClient, server: Server) -> None:
    signup(client, "ann")
    bad = client.post("/api/password", json={"current": "wrong one!", "new": "a new password"})
    assert bad.status_code == 401
    ok = client.post("/api/password", json={"current": PASSWORD, "new": "a new password"})
    assert ok.status_code == 204
    user_dir = server.accounts.user_dir(server.accounts.get_user("ann"))
    assert client.post("/api/account/erase", json={"password": "a new password"}).status_code == 204
    assert not user_dir.exists()
    assert [u.name for u in server.accounts.list_users()] == []
    assert client.get("/api/me").status_code == 401


def test_sign_in_attempts_are_rate_limited_per_address(config: Config) -> None:
    app = create_app(config, settings=fast_settings(sign_in_burst=3, sign_in_per_minute=1))
    with TestClient(app) as c:
        codes = [
            c.post("/api/login", json={"name": "x", "password": "wrong password"}).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        r = c.post("/api/login", json={"name": "x", "password": "wrong password"})
        assert int(r.headers["retry-after"]) >= 1


def test_per_user_request_limit(config: Config) -> None:
    app = create_app(config, settings=fast_settings(request_burst=5, requests_per_minute=1))
    with TestClient(app) as c:
        signup(c, "ann")
        codes = [c.get("/api/history").status_code for _ in range(7)]
        assert codes[:5] == [200] * 5 and codes[-1] == 429
        other = TestClient(app)
        signup(other, "bob")
        assert other.get("/api/history").status_code == 200  # ann's flood does not slow bob
