"""Configuration: `config.yml` (documented keys) validated at start, plus
secrets from environment variables only.

Each section is its own model; a wrong key or value stops the start with an
error naming the key, e.g. `config.yml: web.port: Input should be a valid
integer`. Unknown keys are errors too, so a typo never passes silently.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.paths import PROJECT_ROOT, project_path

DEFAULT_CONFIG = PROJECT_ROOT / "config.yml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    # The address citizens' phones and platforms use to reach us (media links,
    # webhooks). Empty: http://<host>:<port>.
    public_base_url: str = ""


class StorageSettings(Section):
    url: str = "sqlite+aiosqlite:///var/troly.sqlite3"


class NluSettings(Section):
    backend: Literal["embedded", "rasa"] = "embedded"
    rasa_url: str = "http://127.0.0.1:5005"
    data: str = "nlu/data/nlu.yml"
    model_dir: str = "var/nlu-model"
    threshold: float = Field(0.45, ge=0.0, le=1.0)
    ambiguity_threshold: float = Field(0.08, ge=0.0, le=1.0)


class BackendFaultSettings(Section):
    # Faults the mock injects into its citizen API for the whole run.
    latency_ms: int = Field(0, ge=0, le=60000)
    error_rate: float = Field(0.0, ge=0.0, le=1.0)
    timeout_rate: float = Field(0.0, ge=0.0, le=1.0)
    down: bool = False


class BackendSettings(Section):
    # Where the bot reaches the government service. Empty: start the mock
    # service in-process and use it (the offline demo).
    url: str = ""
    mock_host: str = "127.0.0.1"
    mock_port: int = Field(8090, ge=1, le=65535)
    mock_database: str = "var/mock-backend.sqlite3"
    timeout_seconds: float = Field(2.0, gt=0)  # the citizen is answered within 3 s
    # Mock only: address of its pages (certificate links, payment page) as
    # citizens' phones see it. Empty: http://<mock_host>:<port>.
    mock_public_url: str = ""
    clock_speed: float = Field(60.0, gt=0, le=100000)
    token_ttl_days: int = Field(365, ge=1, le=3650)
    # Where the mock POSTs signed status events. Empty: the bot's own
    # /hooks/backend when started by `troly run`; none for `troly backend`.
    webhook_url: str = ""
    webhook_max_attempts: int = Field(6, ge=1, le=50)
    webhook_backoff_seconds: float = Field(2.0, gt=0, le=3600)
    # Mock only: its unauthenticated simulation endpoints (filing a request,
    # the unsigned payment callback, the form simulator) answer only when true.
    mock_demo_mode: bool = True
    faults: BackendFaultSettings = BackendFaultSettings()


class TelegramCommand(Section):
    command: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    vi: str = Field(min_length=1, max_length=256)
    en: str = Field(min_length=1, max_length=256)


class TelegramSettings(Section):
    webhook_url: str = ""  # empty: long polling
    webhook_path: str = Field("", pattern=r"^(/\S*)?$")  # where our app serves it; empty: the path of webhook_url
    polling_timeout_seconds: int = Field(25, ge=0, le=50)
    typing_delay_seconds: float = Field(0.5, ge=0)
    typing_max_busy: int = Field(100, ge=0)
    webhook_reply_seconds: float = Field(1.0, ge=0, le=10)  # 0: acknowledge at once, every reply by a Bot API call
    webhook_max_connections: int = Field(100, ge=1, le=100)  # Telegram's setWebhook max_connections
    commands: list[TelegramCommand] = [
        TelegramCommand(command="start", vi="Bắt đầu", en="Start"),
        TelegramCommand(command="menu", vi="Các việc tôi giúp được", en="What I can help with"),
        TelegramCommand(command="help", vi="Hướng dẫn sử dụng", en="How to use"),
        TelegramCommand(command="language", vi="Đổi ngôn ngữ", en="Change language"),
        TelegramCommand(command="privacy", vi="Quyền riêng tư", en="Privacy"),
        TelegramCommand(command="cancel", vi="Huỷ việc đang làm", en="Cancel"),
        TelegramCommand(command="forget", vi="Xoá dữ liệu của tôi", en="Delete my data"),
    ]


class MediaSettings(Section):
    # Pictures sent by URL (Zalo Bot, web chat) are served from /media/<token>.
    directory: str = "var/media"
    secret_file: str = "var/media-secret"  # used when TROLY_MEDIA_SECRET is unset
    ttl_seconds: int = Field(86400, ge=60)
    public_base_url: str = ""  # empty: web.public_base_url


class ZaloBotSettings(Section):
    base_url: str = "https://bot-api.zaloplatforms.com"  # ZALO_BOT_BASE_URL overrides
    webhook_url: str = ""  # empty: polling with getUpdates; else served at this URL's path
    poll_timeout_seconds: int = Field(30, ge=1, le=120)
    request_timeout_seconds: float = Field(10.0, gt=0)
    max_text_length: int = Field(2000, ge=100)


class ZaloOaSettings(Section):
    api_base_url: str = "https://openapi.zalo.me"  # ZALO_OA_API_BASE_URL overrides
    oauth_base_url: str = "https://oauth.zaloapp.com"  # ZALO_OA_OAUTH_BASE_URL overrides
    webhook_path: str = "/zalo/oa/webhook"
    signature_window_seconds: int = Field(300, ge=10)
    request_timeout_seconds: float = Field(10.0, gt=0)
    max_text_length: int = Field(2000, ge=100)
    max_buttons: int = Field(5, ge=1)
    max_image_bytes: int = Field(1_000_000, ge=10_000)
    refresh_margin_seconds: int = Field(600, ge=0)
    free_window_hours: float = Field(48, gt=0)
    paid_window_hours: float = Field(168, gt=0)
    send_paid_messages: bool = False
    paid_message_path: str = "/v3.0/oa/message/transaction"

    @model_validator(mode="after")
    def _paid_window_follows_free_window(self) -> ZaloOaSettings:
        if self.paid_window_hours < self.free_window_hours:
            raise ValueError("paid_window_hours must not be shorter than free_window_hours")
        return self


class ChannelRate(Section):
    # A platform's flood limit for messages the bot starts itself.
    per_second: float = Field(gt=0)
    per_chat_per_second: float = Field(1.0, gt=0)
    burst: float = Field(1.0, ge=1)  # messages that may go back to back after a quiet spell
    # Messages one chat may get back to back before `per_chat_per_second`
    # holds (Telegram tolerates short bursts in private chats).
    per_chat_burst: int = Field(1, ge=1, le=10)


class BroadcastSettings(Section):
    # Outbox rows a worker claims at a time, and sends in flight at once per channel.
    batch_size: int = Field(100, ge=1, le=1000)
    concurrency: int = Field(8, ge=1, le=64)
    # A claimed row returns to the pool if its worker stops renewing it (crash).
    lease_seconds: float = Field(60.0, ge=1)
    # Network errors: retries with exponential backoff, then `failed`.
    max_attempts: int = Field(6, ge=1)
    retry_base_seconds: float = Field(5.0, gt=0)
    retry_max_seconds: float = Field(600.0, gt=0)
    # Fraction of each rate left unused. Not needed against jitter (the pacer
    # counts a message as sent only once the platform answered it); for
    # sharing a bot's limit with other senders.
    headroom: float = Field(0.0, ge=0, lt=0.5)
    poll_seconds: float = Field(1.0, gt=0)
    rates: dict[str, ChannelRate] = {
        "telegram": ChannelRate(per_second=30, per_chat_per_second=1, per_chat_burst=3),
        "zalo_bot": ChannelRate(per_second=10, per_chat_per_second=1),
        "zalo_oa": ChannelRate(per_second=10, per_chat_per_second=1),
        "web": ChannelRate(per_second=100, per_chat_per_second=10),
    }
    default_rate: ChannelRate = ChannelRate(per_second=10, per_chat_per_second=1)

    def rate_for(self, channel: str) -> ChannelRate:
        return self.rates.get(channel, self.default_rate)


class OutboundSettings(Section):
    # The outbound queue (bot/outbound/): replies and notices written down
    # before their update is acknowledged, paced by `broadcast.rates`.
    max_age_hours: float = Field(24.0, gt=0)  # then given up (and counted), never dropped silently
    lease_seconds: float = Field(30.0, ge=1)  # a crashed worker's rows are sent by another after this
    poll_seconds: float = Field(1.0, gt=0)  # how often rows waiting their turn are looked for
    concurrency: int = Field(64, ge=1, le=1000)  # queued rows sent at once per bot account
    retry_base_seconds: float = Field(1.0, gt=0)  # network errors: backoff from this...
    retry_max_seconds: float = Field(60.0, gt=0)  # ...up to this


# A person on a channel, as "<channel>:<user id>", e.g. "telegram:123456789".
ChannelUser = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*:\S+$")]


# Channels whose user ids the client chooses: the web chat's `user_id` is
# whatever the browser posts, so a role there would be anyone's. No role is
# granted or honoured on them. (The console is local: whoever can run
# `troly chat --user` can also run `troly admin`, so its roles stay allowed.)
CLIENT_CHOSEN_ID_CHANNELS = frozenset({"web"})


def client_chosen_id_problem(who: str) -> str | None:
    """Why `who` ("<channel>:<user id>") cannot hold a role, or None."""
    channel = who.strip().partition(":")[0]
    if channel not in CLIENT_CHOSEN_ID_CHANNELS:
        return None
    return (
        f"{who!r}: {channel} ids are chosen by the browser, so anyone could claim this one; "
        "give roles on telegram or zalo (e.g. telegram:123456789)"
    )


class RolesSettings(Section):
    # `troly admin grant` adds more in the database.
    admins: list[ChannelUser] = []
    officers: list[ChannelUser] = []
    outreach: list[ChannelUser] = []

    @model_validator(mode="after")
    def _no_client_chosen_ids(self) -> RolesSettings:
        problems = [
            f"roles.{field}: {problem}"
            for field in ("admins", "officers", "outreach")
            for who in getattr(self, field)
            if (problem := client_chosen_id_problem(who))
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


class OutreachSettings(Section):
    # The Telegram bot's username (without @), for the posters' deep-link QR.
    telegram_bot_username: str = ""
    # The province's contact line printed on posters (who to call or visit).
    contact_line: str = ""
    # The Zalo OA's or Zalo bot's link (https://zalo.me/...), for the posters' Zalo QR.
    zalo_link: str = Field("", pattern=r"^(https://zalo\.me/\S+)?$")


class HandoffSettings(Section):
    # The officers' Telegram group (its chat id, e.g. "-1001234567890"):
    # citizens' questions for a person go there. Empty: questions are only
    # kept in the audit log for an officer to answer later.
    officers_chat_id: str = Field("", pattern=r"^(-?\d{1,20})?$")
    # When officers answer: days (1 = Monday ... 7 = Sunday) and hours, in
    # the office's time zone.
    office_days: list[Annotated[int, Field(ge=1, le=7)]] = Field([1, 2, 3, 4, 5], min_length=1)
    opens: str = Field("07:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    closes: str = Field("17:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "Asia/Ho_Chi_Minh"

    @model_validator(mode="after")
    def _valid_hours(self) -> HandoffSettings:
        if self.opens >= self.closes:
            raise ValueError("opens must be before closes")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown timezone {self.timezone!r}") from error
        return self


class FeedbackSettings(Section):
    # Questions the bot could not answer are kept (numbers masked) this many
    # days for admins to improve the NLU data, then deleted.
    unanswered_keep_days: int = Field(90, ge=1, le=3650)


class KnowledgeSettings(Section):
    # The knowledge YAML files (answers, facts, guide...). Empty: domain/data/knowledge.
    directory: str = ""
    # How often a running bot looks for edited knowledge files, in seconds;
    # valid edits are applied without a restart. 0: never.
    reload_seconds: float = Field(5.0, ge=0, le=3600)


class Settings(Section):
    web: WebSettings = WebSettings()
    storage: StorageSettings = StorageSettings()
    nlu: NluSettings = NluSettings()
    backend: BackendSettings = BackendSettings()
    telegram: TelegramSettings = TelegramSettings()
    media: MediaSettings = MediaSettings()
    zalo_bot: ZaloBotSettings = ZaloBotSettings()
    zalo_oa: ZaloOaSettings = ZaloOaSettings()
    broadcast: BroadcastSettings = BroadcastSettings()
    outbound: OutboundSettings = OutboundSettings()
    roles: RolesSettings = RolesSettings()
    outreach: OutreachSettings = OutreachSettings()
    handoff: HandoffSettings = HandoffSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()

    def path(self, relative: str) -> Path:
        """A configured path, relative to the project root unless absolute
        (`var/...` in the project's `var_dir`)."""
        return project_path(relative)


class ConfigError(Exception):
    pass


def load_settings(path: Path | str | None = None) -> Settings:
    path = Path(path) if path else Path(os.environ.get("TROLY_CONFIG", DEFAULT_CONFIG))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    try:
        return Settings.model_validate(raw or {})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors())
        raise ConfigError(f"{path.name}: {problems}") from error
