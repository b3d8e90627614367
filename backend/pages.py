"""HTML pages of the mock: certificate verification, the mock NAPAS payment
page and the VNeID form training simulator. Small, mobile-first, no scripts,
every value escaped. All of them say plainly that they are a simulation."""

from __future__ import annotations

from datetime import datetime
from html import escape

from backend.domain import VIETNAM_TZ

SIMULATION_BANNER = (
    '<div class="banner">MÔ PHỎNG — không phải hệ thống của Bộ Công an hay ứng dụng VNeID. '
    "Dữ liệu là giả lập.<br><small>SIMULATION — not a government system; all data is fictitious.</small></div>"
)

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}
main{max-width:34rem;margin:0 auto;padding:1rem}
.banner{background:#fff3cd;border-bottom:2px solid #e0b000;padding:.6rem 1rem;font-weight:600;text-align:center}
.card{background:#fff;border-radius:.8rem;padding:1rem 1.2rem;margin:1rem 0;box-shadow:0 1px 3px #0002}
h1{font-size:1.3rem} h2{font-size:1.1rem;margin-top:0}
.valid{color:#11752c}.expired,.revoked{color:#a35200}.unknown{color:#b00020}
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem .8rem} dt{color:#555} dd{margin:0;font-weight:600}
label{display:block;margin:.7rem 0 .2rem;font-weight:600}
input,select{width:100%;padding:.55rem;font-size:1rem;box-sizing:border-box;border:1px solid #bbb;border-radius:.4rem}
.radio{display:flex;gap:1rem}.radio label{font-weight:400;margin:0}.radio input{width:auto}
button{width:100%;padding:.8rem;font-size:1.05rem;border:0;border-radius:.5rem;background:#c8102e;color:#fff;margin-top:1rem}
button.secondary{background:#6b7280} .napas{background:#003d7a;color:#fff}
small{color:#555}
"""


def page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{SIMULATION_BANNER}<main>{body}</main></body></html>"
    )


def definition_list(rows: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows) + "</dl>"


def vn_datetime(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(VIETNAM_TZ).strftime("%d/%m/%Y %H:%M")


def vn_date(iso: str) -> str:
    return vn_datetime(iso)[:10]


VERIFY_TEXT = {
    "valid": ("Phiếu hợp lệ", "This certificate is valid."),
    "expired": ("Đường dẫn kiểm tra đã hết hạn", "This verification link has expired. Ask the holder for a new one."),
    "revoked": ("Phiếu đã bị thu hồi", "This certificate has been revoked."),
    "unknown": ("Không tìm thấy phiếu", "No certificate matches this link. It may be mistyped or forged."),
}


def verification_page(state: str, details: list[tuple[str, str]]) -> str:
    title_vi, text_en = VERIFY_TEXT[state]
    body = (
        "<h1>Kiểm tra Phiếu lý lịch tư pháp</h1>"
        f'<div class="card"><h2 class="{state}">{escape(title_vi)}</h2><p><small>{escape(text_en)}</small></p>'
        f"{definition_list(details) if details else ''}</div>"
        "<p><small>Trang kiểm tra của hệ thống mô phỏng troly, không phải trang tra cứu chính thức. "
        "/ The troly mock's verification page, not the official check.</small></p>"
    )
    return page("Kiểm tra phiếu LLTP (mô phỏng)", body)


def payment_page(payment_id: str, code: str, agency: str, amount: str, state: str, return_to: str | None) -> str:
    hidden = f'<input type="hidden" name="return_to" value="{escape(return_to)}">' if return_to else ""
    if state != "pending":
        action = f"<p>Giao dịch đã kết thúc: <b>{escape(state)}</b>.</p>"
    else:
        action = (
            f'<form method="post" action="/pay/{escape(payment_id)}/callback">{hidden}'
            '<button class="napas" name="result" value="success">Thanh toán (mô phỏng thành công)</button>'
            '<button class="secondary" name="result" value="failure">Hủy / mô phỏng thất bại</button></form>'
        )
    body = (
        "<h1>Cổng thanh toán mô phỏng kiểu NAPAS</h1>"
        '<div class="card">'
        + definition_list(
            [
                ("Đơn vị thụ hưởng", agency),
                ("Mã hồ sơ", code),
                ("Nội dung", "Phí cung cấp thông tin LLTP"),
                ("Số tiền", amount),
            ]
        )
        + action
        + "<p><small>Không có tiền thật nào được chuyển. / No real money moves.</small></p></div>"
    )
    return page("Thanh toán (mô phỏng)", body)


def message_page(title: str, text_vi: str, text_en: str, link: tuple[str, str] | None = None) -> str:
    extra = f'<p><a href="{escape(link[1])}">{escape(link[0])}</a></p>' if link else ""
    return page(
        title,
        f'<h1>{escape(title)}</h1><div class="card"><p>{escape(text_vi)}</p>'
        f"<p><small>{escape(text_en)}</small></p>{extra}</div>",
    )


def _options(choices: list[tuple[str, str]], selected: str | None = None) -> str:
    return "".join(
        f'<option value="{escape(v)}"{" selected" if v == selected else ""}>{escape(t)}</option>' for v, t in choices
    )


def simulator_form(provinces: list[tuple[str, str]], scenarios: list[tuple[str, str]]) -> str:
    body = f"""
<h1>Tập huấn: yêu cầu cấp Phiếu lý lịch tư pháp</h1>
<p><small>Màn hình mô phỏng các bước trên VNeID (Thủ tục hành chính → Cấp phiếu lý lịch tư pháp → Tạo mới yêu cầu),
dùng để hướng dẫn người dân. Nhãn trường trên ứng dụng thật có thể khác.
/ A training imitation of the VNeID request screens; real labels may differ.</small></p>
<form method="post" action="/simulator/confirm" class="card">
<h2>Bước 1. Thông tin yêu cầu</h2>
<label>Cơ quan tiếp nhận (Công an tỉnh/thành phố)</label>
<select name="province_code">{_options(provinces, "01")}</select>
<label>Loại phiếu</label>
<div class="radio"><label><input type="radio" name="certificate_type" value="1" checked> Phiếu số 1</label>
<label><input type="radio" name="certificate_type" value="2"> Phiếu số 2</label></div>
<label>Mục đích sử dụng</label>
<input name="purpose" maxlength="200" required value="Bổ sung hồ sơ xin việc">
<h2 style="margin-top:1.2rem">Bước 2. Nhận kết quả</h2>
<label>Số bản giấy (2 bản đầu không tính thêm phí)</label>
<input name="paper_copies" type="number" min="0" max="10" value="0">
<label>Hình thức nhận</label>
<select name="delivery">{
        _options(
            [
                ("electronic", "Bản điện tử trên VNeID"),
                ("post", "Bưu chính công ích"),
                ("counter", "Nhận tại cơ quan công an"),
            ]
        )
    }</select>
<label>Địa chỉ nhận (nếu gửi bưu chính)</label>
<input name="address" maxlength="300">
<label>Đối tượng nộp phí</label>
<select name="fee_group">{
        _options(
            [
                ("standard", "Thông thường"),
                ("reduced", "Được giảm (học sinh, sinh viên...)"),
                ("exempt", "Được miễn (có giấy tờ chứng minh)"),
            ]
        )
    }</select>
<label>Kịch bản xử lý (chỉ có trong tập huấn)</label>
<select name="scenario">{_options(scenarios, "normal")}</select>
<button>Tiếp tục</button>
</form>"""
    return page("Tập huấn VNeID — mô phỏng", body)


def simulator_confirm(fields: dict[str, str], summary: list[tuple[str, str]]) -> str:
    hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())
    body = (
        "<h1>Bước 3. Xác nhận thông tin</h1>"
        f'<div class="card">{definition_list(summary)}'
        f'<form method="post" action="/simulator/submit">{hidden}'
        '<label class="radio"><input type="checkbox" name="consent" value="yes" required> '
        "Tôi cam đoan thông tin là đúng và đồng ý chia sẻ dữ liệu để giải quyết yêu cầu.</label>"
        "<button>Bước 4. Xác nhận và thanh toán</button></form>"
        '<form method="get" action="/simulator"><button class="secondary">Sửa lại</button></form></div>'
    )
    return page("Tập huấn VNeID — xác nhận", body)


def simulator_done(code: str, status: str, last4: str, birth_date: str, name: str) -> str:
    body = (
        "<h1>Đã nộp yêu cầu (mô phỏng)</h1>"
        '<div class="card">'
        + definition_list(
            [
                ("Mã hồ sơ", code),
                ("Trạng thái", status),
                ("Người yêu cầu (giả lập)", name),
                ("4 số cuối CCCD", last4),
                ("Ngày sinh", birth_date),
            ]
        )
        + "<p>Dùng mã hồ sơ, 4 số cuối và ngày sinh ở trên để thử tra cứu trạng thái với trợ lý troly.</p>"
        "<p><small>Use this code, last 4 digits and birth date to try a status lookup with the troly bot.</small></p>"
        '<p><a href="/simulator">Tập huấn lại từ đầu</a></p></div>'
    )
    return page("Tập huấn VNeID — hoàn tất", body)
