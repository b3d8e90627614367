"""Certificate delivery: for a completed request, a QR code (PNG made with
`qrcode`) that opens the certificate's verification page, the link itself,
and how to present it.

Getting the certificate is a status lookup with the goal "certificate": the
same code and proof of ownership, so only the holder receives the link.

```mermaid
stateDiagram-v2
    [*] --> status.ASK_CODE: get certificate
    status.ASK_CODE --> status.ASK_PROOF
    status.ASK_PROOF --> QR: COMPLETED
    status.ASK_PROOF --> NOT_READY: any other status
    QR --> [*]
    NOT_READY --> [*]
```
"""

from __future__ import annotations

from core.messages import Image, Link, Reply
from core.qr import qr_png
from flows.base import Context, Flow


def certificate_replies(ctx: Context, view) -> list[Reply]:
    certificate = view.certificate
    issued = certificate.issued_at.strftime("%d/%m/%Y") if getattr(certificate, "issued_at", None) else ""
    text = ctx.t(
        "certificate.ready",
        number=certificate.number,
        issued=issued,
        agency=certificate.agency_name or view.agency_name or "",
    )
    return [
        Reply(
            text,
            image=Image(png=qr_png(certificate.verify_url), alt=ctx.t("certificate.qr_alt"), key=f"qr/{view.code}"),
            link=Link(ctx.t("certificate.open_link"), certificate.verify_url),
        ),
        Reply(ctx.t("certificate.how_to_present"), buttons=(ctx.menu_row(),)),
    ]


class Certificate(Flow):
    name = "certificate"

    async def start(self, ctx: Context, arg: str = "") -> list[Reply]:
        return await ctx.start("status", f"certificate|{arg}")
