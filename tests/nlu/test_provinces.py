from domain import provinces
from domain.provinces import all_provinces, province_by_code
from nlu.provinces import candidate_provinces, find_communes, find_province


def test_gazetteer_has_the_34_current_provinces_with_communes():
    current = all_provinces()
    assert len(current) == 34
    assert sum(len(province.communes) for province in current) > 3000
    assert province_by_code("79").name == "Hồ Chí Minh"
    assert province_by_code("079").code == "79"
    assert province_by_code("99") is None


def test_current_province_found_with_or_without_diacritics():
    assert find_province("tôi ở Đà Nẵng").province.code == "48"
    assert find_province("toi o da nang").province.code == "48"
    assert find_province("Cần Thơ").former_name is None


def test_common_abbreviations_are_understood():
    for text in ("HCM", "tphcm", "TP.HCM", "Sài Gòn", "sai gon", "TP. Hồ Chí Minh"):
        assert find_province(text).province.code == "79", text
    assert find_province("HN").province.code == "01"
    assert find_province("ĐN").province.code == "48"


def test_ambiguous_folded_abbreviation_is_not_guessed():
    assert find_province("dn nhỏ") is None  # Đà Nẵng? Đồng Nai? doanh nghiệp?


def test_pre_2025_province_maps_to_todays_province_with_its_old_name():
    match = find_province("quê tôi ở Phú Yên")
    assert (match.province.name, match.former_name) == ("Đắk Lắk", "Phú Yên")
    assert find_province("binh duong").province.code == "79"
    assert find_province("Bình Dương").former_name == "Bình Dương"
    assert find_province("Vũng Tàu").former_name == "Bà Rịa - Vũng Tàu"
    assert find_province("Thừa Thiên Huế").province.name == "Huế"


def test_text_without_a_province_finds_none():
    assert find_province("lệ phí bao nhiêu") is None
    assert find_province("") is None


def test_shared_commune_name_returns_every_candidate_province():
    matches = find_communes("xã An Phú")
    assert len(candidate_provinces(matches)) > 1  # the dialogue must ask which province


def test_commune_search_can_be_limited_to_one_province():
    matches = find_communes("phường Ba Đình", province_code="01")
    assert [match.province.code for match in matches] == ["01"]
    assert find_communes("phường Ba Đình", province_code="99") == []


def test_former_district_is_matched_through_current_units_never_as_a_district():
    matches = find_communes("huyện Củ Chi")
    assert matches and all(match.after_district_word for match in matches)
    assert all(match.commune.kind != "Huyện" for match in matches)
    assert "79" in {province.code for province in candidate_provinces(matches)}


def test_snapshot_file_is_replaceable(tmp_path, monkeypatch):
    (tmp_path / "vn-admin-units-2027-01-01.json").write_text(
        '[{"Code": "01", "Name": "Hà Nội", "FullName": "Thành phố Hà Nội", "NameEn": "Hanoi", "Wards": []}]',
        encoding="utf-8",
    )
    monkeypatch.setattr(provinces, "ADMIN_UNITS_DIR", tmp_path)
    provinces.all_provinces.cache_clear()
    try:
        assert [province.name for province in provinces.all_provinces()] == ["Hà Nội"]
    finally:
        provinces.all_provinces.cache_clear()
