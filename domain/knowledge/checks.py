"""The rule for content (shared/domain/README.md), as far as data can show it:
low and unverified texts must be phrased with caution, unverified ones must
also point to an official channel, drafts must say "dự thảo"/"draft", and an
outdated authority ("Sở Tư pháp", "huyện", district police) may only be
mentioned as past or as "not", and the fee is never called a "lệ phí"."""

from __future__ import annotations

import re

from domain.fees import FeeRules
from domain.knowledge.model import LANGUAGES, Record

# Confidences that may be stated as fact, without a hedge.
STATABLE = ("high", "medium")

# Words that make a sentence cautious, and the official channels an
# unverified item must refer to (README "The rule for content").
HEDGES = {
    "vi": ("có thể", "theo một số nguồn", "chưa được xác nhận", "chưa được công bố", "chưa rõ", "dự kiến", "dự thảo"),
    "en": ("may ", "might", "some sources", "not confirmed", "not been published", "unclear", "planned", "draft"),
}
REFERRALS = ("vneid", "dichvucong.gov.vn", "1900 0368", "công an", "police")
DRAFT_WORDS = {"vi": "dự thảo", "en": "draft"}
# An outdated authority may be named only in a sentence that says it is past or not.
OUTDATED_TERMS = re.compile(r"sở tư pháp|huyện|district police|department of justice|công an cấp huyện", re.I)
PAST_OR_NOT = re.compile(
    r"không còn|trước đây|trước 01/03/2025|không phải|không nộp|đã chuyển|no longer|not |formerly|used to|before",
    re.I,
)
# The LLTP charge is a "phí" (phí cung cấp thông tin lý lịch tư pháp), not a "lệ phí"
# (facts.md §4, high): a Vietnamese text never calls it one.
WRONG_FEE_TERM = re.compile(r"\blệ phí\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


def wording_problems(record: Record) -> list[str]:
    """What in the record's texts breaks the rule for content (empty when nothing does)."""
    problems = []
    for lang in LANGUAGES:
        texts = [entry[lang] for entry in record.texts.values()]
        texts += [item[lang] for items in record.lists.values() for item in items]
        whole = " ".join(texts).lower()
        if record.confidence not in STATABLE and not any(h in whole for h in HEDGES[lang]):
            problems.append(
                f"{record.confidence} fact stated as certain in {lang}: "
                f"phrase it with caution (e.g. {HEDGES[lang][0]!r})"
            )
        if record.confidence == "unverified" and not any(r in whole for r in REFERRALS):
            problems.append(
                f"unverified fact in {lang} must refer to an official channel "
                "(VNeID, dichvucong.gov.vn, the police unit, 1900 0368)"
            )
        if "draft" in record.flags and DRAFT_WORDS[lang] not in whole:
            problems.append(f"a draft rule must be called {DRAFT_WORDS[lang]!r} in {lang}")
        if lang == "vi" and WRONG_FEE_TERM.search(whole):
            problems.append("calls the fee 'lệ phí': it is a 'phí' (phí cung cấp thông tin lý lịch tư pháp)")
        for text in texts:
            for sentence in _SENTENCE.split(text):
                if OUTDATED_TERMS.search(sentence) and not PAST_OR_NOT.search(sentence):
                    problems.append(f"presents an outdated authority as current ({lang}): {sentence.strip()!r}")
    return problems


def fee_wording_problems(rules: FeeRules) -> list[tuple[str, str]]:
    """(where, message) for the fee rules' texts: the fee is a "phí", and a
    possible waiver is only ever "có thể" (may), with VNeID showing the amount."""
    problems = []
    texts = [
        (f"groups.{group}.{name}", value)
        for group, entry in rules.groups.items()
        for name, value in entry.items()
        if isinstance(value, dict) and "vi" in value
    ]
    texts += [(f"possible_waivers[{n}].text", waiver.text) for n, waiver in enumerate(rules.possible_waivers)]
    for where, entry in texts:
        if WRONG_FEE_TERM.search(str(entry.get("vi", ""))):
            problems.append((where, "calls the fee 'lệ phí': it is a 'phí' (phí cung cấp thông tin lý lịch tư pháp)"))
    for n, waiver in enumerate(rules.possible_waivers):
        for lang in LANGUAGES:
            words = str(waiver.text.get(lang, "")).lower()
            if HEDGES[lang][0] not in words or "vneid" not in words:
                problems.append(
                    (
                        f"possible_waivers[{n}]",
                        f"a possible waiver says {HEDGES[lang][0]!r} and that VNeID shows the exact amount ({lang})",
                    )
                )
    if rules.last_checked is None:
        problems.append(("last_checked", "no last_checked date for the fee rules"))
    return problems
