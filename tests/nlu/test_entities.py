import logging
from datetime import date

import pytest

from nlu.entities import extract, find_phone, find_request_code
from nlu.idnumber import parse_id_number


def _values(text: str, entity: str) -> list:
    return [item["value"] for item in extract(text) if item["entity"] == entity]


# request_code -------------------------------------------------------------


def test_request_code_is_found_in_a_sentence_and_made_canonical():
    assert find_request_code("mã hồ sơ của tôi là 000.00.79.H79-261115-0007 ạ") == "000.00.79.H79-261115-0007"
    assert find_request_code("000.00.79.h79 - 261115 - 0007") == "000.00.79.H79-261115-0007"
    assert find_request_code("000 . 00 . 01 . H 01-261020-0153") == "000.00.01.H01-261020-0153"


@pytest.mark.parametrize(
    "text",
    [
        "000.00.79.H48-261115-0007",  # receiving province written twice differently
        "000.00.99.H99-261115-0007",  # no province 99
        "000.00.79.H79-261345-0007",  # month 13
        "000.00.79.H79-261115-007",  # short sequence
        "mã hồ sơ của tôi đâu",
    ],
)
def test_malformed_request_codes_are_not_request_codes(text):
    assert find_request_code(text) is None


def test_request_code_entity_has_rasa_shape_and_offsets():
    text = "tra mã 000.00.48.H48-261101-0021 giúp"
    [entity] = extract(text)
    assert entity == {
        "entity": "request_code",
        "value": "000.00.48.H48-261101-0021",
        "start": 7,
        "end": 32,
        "confidence_entity": 1.0,
        "extractor": "RegexEntityExtractor",
    }
    assert text[entity["start"] : entity["end"]] == "000.00.48.H48-261101-0021"


# id_number ----------------------------------------------------------------


def test_id_number_is_decoded_into_birth_province_sex_and_year():
    info = parse_id_number("037153000257")
    assert info.birth_province.old_name == "Ninh Bình"
    assert info.birth_province.name_2025 == "Ninh Bình"
    assert (info.sex, info.birth_year) == ("female", 1953)
    info = parse_id_number("054 206 123456")
    assert (info.birth_province.old_name, info.birth_province.name_2025) == ("Phú Yên", "Đắk Lắk")
    assert (info.sex, info.birth_year) == ("male", 2006)


@pytest.mark.parametrize(
    "number",
    [
        "003153000257",  # 003 is not a province code
        "037253000257",  # born 2053: in the future
        "03715300025",  # 11 digits
        "0371530002570",  # 13 digits
        "03715300025a",
        "",
    ],
)
def test_invalid_id_numbers_are_rejected(number):
    assert parse_id_number(number, today=date(2026, 11, 23)) is None


def test_id_number_entity_only_for_valid_numbers():
    assert _values("cccd của tôi 037153000257", "id_number") == ["037153000257"]
    assert _values("cccd của tôi 003153000257", "id_number") == []


def test_id_number_never_appears_in_repr_or_logs(caplog):
    info = parse_id_number("037153000257")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").info("parsed %s", info)
    assert "037153000257" not in repr(info) and "037153000257" not in caplog.text
    assert info.masked == "*********257"


# phone ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "0912345678",
        "0912 345 678",
        "0912.345.678",
        "+84 912 345 678",
        "+84912345678",
        "84912345678",
        "sđt mình 0912-345-678 nhé",
    ],
)
def test_vietnamese_mobile_numbers_are_canonical(text):
    assert find_phone(text) == "0912345678"


@pytest.mark.parametrize("text", ["0212345678", "091234567", "09123456789", "+1 912 345 678", "1900 0368"])
def test_non_mobile_numbers_are_not_phones(text):
    assert find_phone(text) is None


# date -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "05/03/1990",
        "5/3/1990",
        "5/3/90",
        "05-03-1990",
        "1990-03-05",
        "ngày 5 tháng 3 năm 1990",
        "ngay 5 thang 3 nam 1990",
        "sinh ngày 05.03.1990",
    ],
)
def test_dates_in_common_forms_become_iso(text):
    assert _values(text, "date") == ["1990-03-05"]


@pytest.mark.parametrize("text", ["31/02/2020", "12/13/2020", "ngày 32 tháng 1 năm 2000", "1990-13-01"])
def test_impossible_dates_are_not_dates(text):
    assert _values(text, "date") == []


# certificate_type and copies --------------------------------------------------


@pytest.mark.parametrize(
    "text,value",
    [("phiếu số 2", 2), ("phieu 1", 1), ("lltp so 2", 2), ("Phiếu số hai", 2), ("lý lịch tư pháp số 1", 1)],
)
def test_certificate_type_is_one_or_two(text, value):
    assert _values(text, "certificate_type") == [value]


@pytest.mark.parametrize("text", ["phiếu số 3", "phiếu lý lịch", "số 2"])
def test_other_numbers_are_not_certificate_types(text):
    assert _values(text, "certificate_type") == []


@pytest.mark.parametrize(
    "text,value",
    [
        ("3 bản", 3),
        ("ba bản", 3),
        ("cho tôi 2 ban", 2),
        ("năm bản", 5),
        ("10 copies", 10),
        # The Nth copy asked about: N copies.
        ("bản thứ 3 tính sao", 3),
        ("ban thu 4 gia bao nhieu", 4),
        ("the 3rd copy", 3),
    ],
)
def test_copies_are_integers(text, value):
    assert _values(text, "copies") == [value]


@pytest.mark.parametrize("text", ["hai bạn", "0 bản", "bản giấy", "bạn thứ 3"])
def test_friends_and_zero_are_not_copies(text):
    assert _values(text, "copies") == []


# province -----------------------------------------------------------------------


def test_province_entity_carries_the_current_name_and_former_name():
    [entity] = extract("tôi ở Phú Yên")
    assert entity["entity"] == "province" and entity["value"] == "Đắk Lắk"
    assert entity["former_name"] == "Phú Yên"
    [entity] = extract("o tp hcm")
    assert entity["value"] == "Hồ Chí Minh" and "former_name" not in entity


def test_unknown_place_is_not_a_province():
    assert _values("tôi ở Paris", "province") == []


# mixed ----------------------------------------------------------------------------


def test_entities_never_overlap_and_come_in_reading_order():
    text = (
        "Hồ sơ 000.00.79.H79-261115-0007, cccd 037153000257, sđt 0912345678, sinh 05/03/1990, phiếu 2, 3 bản, "
        "Bình Dương"
    )
    found = extract(text)
    assert [item["entity"] for item in found] == [
        "request_code",
        "id_number",
        "phone",
        "date",
        "certificate_type",
        "copies",
        "province",
    ]
    spans = [(item["start"], item["end"]) for item in found]
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
