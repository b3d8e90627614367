"""The ground floor: what every other package may use and which imports none
of them. The channel-neutral message model (`core.messages`), the folded text
key (`core.textkey`), the masking of personal numbers (`core.redaction`),
date parsing (`core.dates`), request codes (`core.codes`), secrets from the
environment (`core.secrets`), the project's paths (`core.paths`), QR codes as
PNG (`core.qr`) and word wrap by a measured width (`core.wordwrap`)."""
