"""Certificate delivery: for a completed request, a QR code (PNG made with
`qrcode`) that opens the certificate's verification page, the link itself,
and how to present it. A revoked certificate, or one whose verification link
has expired, gets no QR code: what it means and what to do instead. A link
only the demo laptop can open (loopback: the mock without `troly run --lan`)
gets no QR code either, since no phone could open it; the link stays.

Getting the certificate is a status lookup with the goal "certificate": the
same code and proof of ownership, so only the holder receives the link.

```mermaid
stateDiagram-v2
    [*] --> status.ASK_CODE: get certificate
    status.ASK_CODE --> status.ASK_PROOF
    status.ASK_PROOF --> QR: COMPLETED, certificate valid
    status.ASK_PROOF --> LINK_ONLY: COMPLETED, valid, but its link is loopback (demo laptop, no --lan)
    status.ASK_PROOF --> NOT_VALID: COMPLETED, certificate revoked or its link expired (no QR)
    status.ASK_PROOF --> NOT_READY: any other status
    QR --> [*]
    LINK_ONLY --> [*]: staff run `troly run --lan` for a QR code
    NOT_VALID --> [*]: new request in VNeID, or ask the issuing unit
    NOT_READY --> [*]
```
"""

from __future__ import annotations

from urllib.parse import urlsplit

from core.messages import Image, Link, Reply
from core.netaddr import phone_unreachable
from core.qr import qr_png
from flows.answers import fact_reply
from flows.base import Context, Flow

# A certificate in these states is described, never sent as a QR code that
# would look like proof of validity: the knowledge note for each.
NOT_VALID_NOTES = {"expired": "CERTIFICATE_EXPIRED", "revoked": "CERTIFICATE_REVOKED"}


def certificate_replies(ctx: Context, view) -> list[Reply]:
    certificate = view.certificate
    issued = certificate.issued_at.strftime("%d/%m/%Y") if getattr(certificate, "issued_at", None) else ""
    note_key = NOT_VALID_NOTES.get(getattr(certificate, "state", "valid"))
    if note_key is not None:
        return [not_valid_reply(ctx, view, note_key, issued)]
    text = ctx.t(
        "certificate.ready",
        number=certificate.number,
        issued=issued,
        agency=certificate.agency_name or view.agency_name or "",
    )
    link = Link(ctx.t("certificate.open_link"), certificate.verify_url)
    if phone_unreachable(urlsplit(certificate.verify_url).hostname or ""):
        # The mock on the demo laptop's loopback: a QR code would look
        # scannable but no phone could open it. The link still opens here.
        first = Reply(f"{text}\n{ctx.t('certificate.local_demo_no_qr')}", link=link)
        how_to_present = ctx.t("certificate.how_to_present_link")
    else:
        qr = Image(png=qr_png(certificate.verify_url), alt=ctx.t("certificate.qr_alt"), key=f"qr/{view.code}")
        first = Reply(f"{text}\n{ctx.t('certificate.scan_or_open')}", image=qr, link=link)
        how_to_present = ctx.t("certificate.how_to_present")
    return [first, Reply(how_to_present, buttons=(ctx.menu_row(),))]


def not_valid_reply(ctx: Context, view, note_key: str, issued: str) -> Reply:
    """An expired or revoked certificate: what it is, what to do, whom to ask."""
    knowledge = ctx.services.knowledge
    note = knowledge.status_note(note_key, ctx.lang, ctx.today, number=view.certificate.number, issued=issued)
    unit = knowledge.contacts(view.province_code, ctx.lang, ctx.today).receiving_unit
    return fact_reply(ctx, f"{note.text}\n{unit}", note.sources, note.as_of, buttons=(ctx.menu_row(),))


class Certificate(Flow):
    name = "certificate"

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        return await ctx.start("status", f"certificate|{arg}")
