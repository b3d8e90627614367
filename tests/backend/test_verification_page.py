"""The certificate verification link: valid, tampered, expired, revoked;
HTML for people, JSON for machines; the holder's name masked."""

from __future__ import annotations

from datetime import timedelta

from tests.backend.conftest import DEMO, EXPIRED_LINK_REQUEST, REVOKED_REQUEST


async def verify_url(http, code, proof):
    view = (await http.post(f"/api/v1/requests/{code}/status", json=proof.as_json())).json()
    return view["certificate"]["verify_url"]


async def test_valid_certificate_link_shows_valid_page_with_masked_holder(http):
    url = await verify_url(http, *DEMO["COMPLETED"])
    page = await http.get(url)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Phiếu hợp lệ" in page.text and "MÔ PHỎNG" in page.text
    assert "N***** T** Lan" in page.text and "Nguyễn Thị Lan" not in page.text


async def test_machines_get_json_by_accept_header_or_format_parameter(http):
    url = await verify_url(http, *DEMO["COMPLETED"])
    by_header = await http.get(url, headers={"Accept": "application/json"})
    by_param = await http.get(url + "?format=json")
    assert by_header.json() == by_param.json()
    assert by_header.json()["state"] == "valid" and by_header.json()["holder"] == "N***** T** Lan"
    assert by_header.json()["agency_name"] == "Phòng Hồ sơ nghiệp vụ, Công an Thành phố Hà Nội"


async def test_a_tampered_token_is_unknown(http):
    url = await verify_url(http, *DEMO["COMPLETED"])
    payload, signature = url.rsplit("/", 1)[1].split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    tampered = [f"{payload}.{signature[:-1]}{c}" for c in alphabet if c != signature[-1]]
    tampered += [f"{payload[:5]}{c}{payload[6:]}.{signature}" for c in "AbZ9" if c != payload[5]]
    flipped = tampered[0].split(".")[1]
    for token in (*tampered, "nonsense", "a" * 299):
        response = await http.get(f"/verify/{token}?format=json")
        assert response.status_code == 200 and response.json() == {"state": "unknown"}
    page = await http.get(f"/verify/{payload}.{flipped}")
    assert "Không tìm thấy phiếu" in page.text


async def test_a_link_past_its_expiry_says_expired(http, backend):
    assert (await http.get((await verify_url(http, *EXPIRED_LINK_REQUEST)) + "?format=json")).json()[
        "state"
    ] == "expired"
    url = await verify_url(http, *DEMO["COMPLETED"])
    backend.service.clock.advance(timedelta(days=366))
    page = await http.get(url)
    assert "Đường dẫn kiểm tra đã hết hạn" in page.text


async def test_a_revoked_certificate_says_revoked(http):
    url = await verify_url(http, *REVOKED_REQUEST)
    assert (await http.get(url, headers={"Accept": "application/json"})).json()["state"] == "revoked"
    assert "Phiếu đã bị thu hồi" in (await http.get(url)).text


async def test_links_survive_a_restart_with_the_same_key(settings):
    from backend.service import MockGovernment

    first = MockGovernment(settings)
    token = first.db.execute("SELECT token FROM certificates LIMIT 1").fetchone()[0]
    first.close()
    second = MockGovernment(settings)
    assert second.check_certificate(token)[0] in ("valid", "expired", "revoked")
    second.close()


async def test_the_status_view_tells_the_certificate_state_the_link_shows(http):
    for request in (DEMO["COMPLETED"], EXPIRED_LINK_REQUEST, REVOKED_REQUEST):
        code, proof = request
        certificate = (await http.post(f"/api/v1/requests/{code}/status", json=proof.as_json())).json()["certificate"]
        page = await http.get(certificate["verify_url"] + "?format=json")
        assert certificate["state"] == page.json()["state"], code
    assert certificate["state"] == "revoked"
