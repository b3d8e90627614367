"""Telegram, through python-telegram-bot (v22): the adapter only translates.

- `channel`: connecting, long polling or the webhook, receiving updates;
- `inbound`: a Telegram update as an `Inbound`;
- `render`: a `Reply` as Telegram messages (HTML text, keyboards, folding);
- `delivery`: sending and editing, photos by `file_id`, the platform's error
  policy, and the answer that rides in the webhook response;
- `logs`: the bot token and the citizens' messages kept out of the logs.
"""

import os

# Opt in to python-telegram-bot's next major behaviour (time periods as
# timedelta), which v22 otherwise warns about on every 429: before the
# modules below import it.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from bot.channels.telegram.channel import TelegramChannel, from_settings

__all__ = ["TelegramChannel", "from_settings"]
