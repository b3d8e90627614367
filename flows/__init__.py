"""The dialogue: each flow (onboarding, menu, guide, eligibility, fees, status, ...) is a small
state machine over the message model; `flows.base` says what a flow is, `flows.registry` lists them."""
