"""Admins see citizens' ratings and the questions the bot could not answer,
in `troly stats` (text, --json, --unanswered, --chart) and in `/stats`."""

from __future__ import annotations

import io
import json

import yaml
from PIL import Image

from bot.config import RolesSettings
from bot.roles import Roles
from bot.staff_commands import StaffCommands
from bot.usage_stats import stats_chart, stats_text, usage_stats
from core.messages import Inbound
from storage.broadcasts.store import BroadcastStore
from storage.feedback import FeedbackStore
from tests.broadcast.test_cli import troly

ADMIN = "telegram:1001"


async def rate(storage, user: str, topic: str, rating: str) -> None:
    await storage.record_event("telegram", user, "answer_rated", {"topic": topic, "rating": rating})


async def seed(storage) -> None:
    for user, topic, rating in [
        ("1", "processing_time", "up"), ("2", "processing_time", "up"), ("3", "processing_time", "down"),
        ("1", "fee_result", "up"),
    ]:  # fmt: skip
        await rate(storage, user, topic, rating)
    store = FeedbackStore(storage)
    for user in ("1", "2", "3"):
        await store.record_unanswered(
            "telegram", user, "Làm phiếu cho người nước ngoài?", language="vi", guess="abroad"
        )
    await store.record_unanswered("telegram", "4", "gọi 0912345678 được không", language="vi", guess="out_of_scope")


async def test_ratings_per_topic_and_positive_share_in_stats_text_json_and_chart(storage):
    await seed(storage)
    stats = await usage_stats(storage, days=7)
    assert stats.ratings == {"processing_time": {"up": 2, "down": 1}, "fee_result": {"up": 1, "down": 0}}
    assert stats.positive_share == 0.75
    text = stats_text(stats)
    assert "👍 3 👎 1, 75% hài lòng/positive" in text
    assert "3× Làm phiếu cho người nước ngoài?" in text
    assert "0912345678" not in text and "gọi *** được không" in text
    data = json.loads(json.dumps(stats.as_dict(), ensure_ascii=False))
    assert data["positive_share"] == 0.75 and data["ratings_up"] == 3
    assert data["unanswered"][0] == {
        "text": "Làm phiếu cho người nước ngoài?", "count": 3, "guess": "abroad", "language": "vi",
        "last_at": data["unanswered"][0]["last_at"], "confirmed": 0,
    }  # fmt: skip
    with Image.open(io.BytesIO(stats_chart(stats))) as picture:
        assert picture.format == "PNG"


async def test_stats_before_any_rating_say_so_plainly(storage):
    stats = await usage_stats(storage)
    assert stats.positive_share is None
    assert "Ratings: —" in stats_text(stats)
    stats_chart(stats)  # an empty chart still draws


async def test_troly_stats_prints_ratings_json_and_the_unanswered_questions_as_nlu_yml(tmp_path, storage):
    await seed(storage)
    config = tmp_path / "config.yml"
    config.write_text(f"storage: {{url: '{storage.url.render_as_string(hide_password=False)}'}}\n", encoding="utf-8")

    code, out, err = await troly(config, "stats", "--json", "--chart", str(tmp_path / "chart.png"))
    assert code == 0, err
    assert json.loads(out)["ratings"]["processing_time"] == {"up": 2, "down": 1}
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"

    code, out, err = await troly(config, "stats", "--unanswered")
    assert code == 0, err
    data = yaml.safe_load(out)
    assert data["nlu"][0] == {"intent": "abroad", "examples": "- Làm phiếu cho người nước ngoài?\n"}
    assert "0912345678" not in out

    code, out, err = await troly(config, "stats")
    assert code == 0 and "Unanswered questions" in out


async def test_admin_sees_ratings_and_unanswered_questions_in_chat_and_citizens_do_not(storage):
    await seed(storage)
    staff = StaffCommands(Roles(storage, RolesSettings(admins=[ADMIN])), BroadcastStore(storage))

    def says(who: str, text: str) -> Inbound:
        channel, user_id = who.split(":")
        return Inbound(channel=channel, user_id=user_id, chat_id=user_id, text=text)

    text, chart = await staff.handle(says(ADMIN, "/stats 7"))
    assert "75% hài lòng/positive" in text.text and "3× Làm phiếu" in text.text
    with Image.open(io.BytesIO(chart.image.png)) as picture:
        assert picture.format == "PNG"
    (export,) = await staff.handle(says(ADMIN, "/stats unanswered"))
    assert yaml.safe_load(export.text)["nlu"][0]["intent"] == "abroad"
    assert await staff.handle(says("telegram:42", "/stats unanswered")) is None
