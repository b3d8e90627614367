from core.textkey import fold_diacritics
from nlu.normalize import normalize, normalize_folded


def test_text_with_and_without_diacritics_meets_the_same_form():
    assert normalize_folded("Lệ phí làm LLTP bao nhiêu?") == normalize_folded("le phi lam lltp bao nhieu?")


def test_old_and_new_tone_placement_are_one_spelling():
    assert normalize("hoà") == normalize("hòa") == "hòa"
    assert normalize("Khánh Hoà") == normalize("khánh hòa")
    assert normalize("thuỷ") == normalize("thủy")
    assert normalize("quý") == "quý"  # qu + y: the tone stays on y
    assert normalize("hoàn") == "hoàn"


def test_decomposed_unicode_from_some_keyboards_is_composed():
    decomposed = "le\u0302\u0323 phi\u0301"  # "lệ phí" typed as base letters + combining marks
    assert normalize(decomposed) == "lệ phí"


def test_teencode_and_abbreviations_are_expanded():
    assert normalize("ko dc") == "không được"
    assert normalize("lltp bn vậy") == "lý lịch tư pháp bao nhiêu vậy"
    assert normalize("đc k") == "được không"
    # Regional and chat words.
    assert normalize("mần phiếu ni lm sao") == "làm phiếu này làm sao"
    assert normalize("tốn nhiêu xiền") == "tốn nhiêu tiền"
    assert normalize("phiếu có hsd ko") == "phiếu có hạn sử dụng không"


def test_an_age_typed_short_is_an_age():
    assert normalize("con 15t tự xin dc ko") == "con 15 tuổi tự xin được không"
    assert normalize("t 8t") == "tôi 8 tuổi"
    assert normalize("000.00.79 15 t") == "000.00.79 15 tôi"  # a code, and a "t" on its own, stay as they were


def test_repeated_letters_are_squeezed_but_digits_are_kept():
    assert normalize("bao nhiêuuuuu vậyyy") == "bao nhiêu vậy"
    assert normalize("000.00.79") == "000.00.79"


def test_case_and_control_characters_are_cleaned():
    assert normalize("  XIN\u0000 CHÀO\u200b ") == "xin chào"


def test_folding_removes_diacritics_and_keeps_length():
    text = "Đắk Lắk, Thừa Thiên Huế"
    assert fold_diacritics(text) == "Dak Lak, Thua Thien Hue"
    assert len(fold_diacritics(text)) == len(text)
    assert fold_diacritics("đường 😀") == "duong 😀"
