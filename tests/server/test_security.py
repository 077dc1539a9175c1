"""Headers, the content security policy, body limits and bad HTTP input."""

from __future__ import annotations

import re
from importlib import resources

from fastapi.testclient import TestClient

from tests.server.conftest import signup


def test_strict_headers_and_csp_everywhere(client: TestClient) -> None:
    for url in ("/", "/api/info", "/static/app.js", "/api/me"):
        h = client.get(url).headers
        csp = h["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        assert h["x-frame-options"] == "DENY"
    assert client.get("/api/info").headers["cache-control"] == "no-store"


def test_the_page_makes_no_third_party_requests() -> None:
    web = resources.files("os1.server") / "web"
    for name in ("index.html", "app.js", "app.css", "manifest.webmanifest"):
        text = (web / name).read_text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name
        if name == "index.html":
            assert "<style" not in text and "onclick" not in text
            assert not re.search(r"<script>(?!</script>)", text)  # no inline script


def test_bodies_over_the_limit_are_413(client: TestClient) -> None:
    big = '{"name": "ann", "password": "' + "x" * 70_000 + '"}'
    r = client.post("/api/login", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["detail"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b"x" * 8192

    r = client.post("/api/login", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_malformed_json_and_wrong_shapes_are_422(client: TestClient) -> None:
    signup(client, "ann")
    for body in ("{", "[]", '{"name": 5}', "null", '{"name": "a", "password": "b", "x": 1}'):
        r = client.post("/api/login", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, body
    assert client.put("/api/identity/voice", json={"voice": "gravel"}).status_code == 422
    assert client.get("/api/history?limit=abc").status_code == 422
    assert client.get("/api/me").status_code == 200  # the server is fine afterwards


def test_no_interactive_docs_from_a_cdn(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/api/openapi.json").json()["info"]["title"] == "os1"
