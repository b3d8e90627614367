"""Outreach: village posters with a QR code per channel, and who they reached.

- `deeplink`: the start payload that encodes place and staff member;
- `channels`: which channels a poster offers and the link of each QR code;
- `contact`: the place's police unit and the number to call;
- `poster`: the A4 layout; `render`: the same elements drawn to PDF and PNG;
- `stats`: citizens reached per place and staff member, and how far they got;
- `cli`: `troly outreach poster|stats`.
"""
