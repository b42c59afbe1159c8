"""Active authentication sessions: GET /auth/sessions, DELETE /auth/sessions/current and /{ref} (auth/sesje.md)."""
from __future__ import annotations


def sessions(ksef, login, **params):
    r = ksef.emu.api("GET", "auth/sessions", headers=login.headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_list_marks_current_and_pages(ksef, nip):
    _reference, value = ksef.seed_token(nip)
    logins = [ksef.login(value, nip) for _attempt in range(12)]
    current = logins[-1]
    first = sessions(ksef, current)
    assert len(first["items"]) == 10 and first["continuationToken"]
    item = first["items"][0]
    assert item["referenceNumber"] == current.reference and item["isCurrent"] is True
    assert item["status"]["code"] == 200 and item["isTokenRedeemed"] is True
    assert item["refreshTokenValidUntil"] and item["authenticationMethodInfo"]["category"] == "Token"
    assert sum(i["isCurrent"] for i in first["items"]) == 1
    rest = ksef.emu.api("GET", "auth/sessions", headers={**current.headers,
                                                         "x-continuation-token": first["continuationToken"]}).json()
    refs = [i["referenceNumber"] for i in first["items"] + rest["items"]]
    assert sorted(refs) == sorted(login.reference for login in logins)
    assert "continuationToken" not in rest or not rest["continuationToken"]
    starts = [i["startDate"] for i in first["items"] + rest["items"]]
    assert starts == sorted(starts, reverse=True)
    bad = ksef.emu.api("GET", "auth/sessions", headers={**current.headers, "x-continuation-token": "%%%"})
    assert bad.status_code == 400 and ksef.codes(bad) == [21418]
    small = ksef.emu.api("GET", "auth/sessions", headers=current.headers, params={"pageSize": 5})
    assert small.status_code == 400 and ksef.codes(small) == [21405]


def test_close_current_revokes_refresh_but_not_access(ksef, nip):
    login = ksef.owner_login(nip)
    other = ksef.owner_login(nip)
    assert ksef.emu.api("DELETE", "auth/sessions/current", headers=login.headers).status_code == 204
    r = ksef.emu.api("POST", "auth/token/refresh", headers={"Authorization": f"Bearer {login.refresh_token}"})
    assert r.status_code == 400 and ksef.codes(r) == [21301]
    assert ksef.details(r) == ["Status uwierzytelniania (425) nie pozwala na odświeżenie tokenu dostępowego."]
    # the access token stays valid until it expires
    assert ksef.emu.api("GET", "tokens", headers=login.headers).status_code == 200
    listed = [i["referenceNumber"] for i in sessions(ksef, other)["items"]]
    assert login.reference not in listed and other.reference in listed


def test_close_current_with_refresh_token(ksef, nip):
    login = ksef.owner_login(nip)
    refresh = {"Authorization": f"Bearer {login.refresh_token}"}
    assert ksef.emu.api("DELETE", "auth/sessions/current", headers=refresh).status_code == 204
    assert ksef.emu.api("POST", "auth/token/refresh", headers=refresh).status_code == 400


def test_close_other_session_and_status_425(ksef, nip):
    _reference, value = ksef.seed_token(nip)
    start = ksef.start_token_auth(value, nip).json()
    auth_token = start["authenticationToken"]["token"]
    ksef.wait_status(start["referenceNumber"], auth_token)
    ksef.emu.api("POST", "auth/token/redeem", headers={"Authorization": f"Bearer {auth_token}"}).raise_for_status()
    admin = ksef.owner_login(nip)
    r = ksef.emu.api("DELETE", f"auth/sessions/{start['referenceNumber']}", headers=admin.headers)
    assert r.status_code == 204
    status = ksef.wait_status(start["referenceNumber"], auth_token)
    assert status["status"]["code"] == 425
    assert status["status"]["details"] == [
        "Uwierzytelnienie i powiązane refresh tokeny zostały unieważnione przez użytkownika"]
    unknown = ksef.emu.api("DELETE", "auth/sessions/20250514-AU-2DFC46C000-3AC6D5877F-D4", headers=admin.headers)
    assert unknown.status_code == 400 and ksef.codes(unknown) == [21405]


def test_sessions_of_other_contexts_are_invisible(ksef, nip, fresh_nip):
    mine = ksef.owner_login(nip)
    theirs = ksef.owner_login(fresh_nip())
    listed = [i["referenceNumber"] for i in sessions(ksef, mine)["items"]]
    assert theirs.reference not in listed
    r = ksef.emu.api("DELETE", f"auth/sessions/{theirs.reference}", headers=mine.headers)
    assert r.status_code == 400
