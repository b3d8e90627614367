"""Every flow, by the name its button payloads start with."""

from __future__ import annotations

from flows.answers import Answers
from flows.base import Flow
from flows.certificate import Certificate
from flows.eligibility import Eligibility
from flows.fees import FeeCalculator
from flows.guide import Guide
from flows.handoff import Handoff
from flows.intent import IntentRouter
from flows.menu import Menu
from flows.onboarding import Onboarding
from flows.status import StatusLookup

FLOW_CLASSES: tuple[type[Flow], ...] = (
    Onboarding,
    Menu,
    Guide,
    Eligibility,
    FeeCalculator,
    StatusLookup,
    Certificate,
    Answers,
    Handoff,
    IntentRouter,
)


def all_flows() -> dict[str, Flow]:
    return {cls.name: cls() for cls in FLOW_CLASSES}
