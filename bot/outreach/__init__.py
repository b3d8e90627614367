"""Outreach: village posters with the bot's deep-link QR, and who they reached.

- `deeplink`: the start payload that encodes place and staff member;
- `poster`: the A4 poster as one layout, drawn to PDF and to PNG;
- `stats`: citizens reached per place and staff member, and how far they got;
- `cli`: `troly outreach poster|stats`.
"""
