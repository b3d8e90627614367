"""The console channel: numbered options, typed numbers, pictures saved to files."""

from __future__ import annotations

import io

from bot.channels.console import ConsoleChannel, run_console


async def test_console_user_answers_by_number_and_gets_numbered_options(dispatcher, tmp_path):
    out = io.StringIO()
    lines = iter(["2", "1", "/quit"])  # English, agree
    channel = ConsoleChannel(out=out, picture_dir=tmp_path)
    await run_console(dispatcher.handle, channel, read_line=lambda: next(lines))
    text = out.getvalue()
    assert "1. Tiếng Việt" in text and "2. English" in text
    assert "Do you agree?" in text and "1. ✅ I agree" in text
    assert "Which province" in text  # "1" chose "I agree", not a stray option


async def test_console_saves_the_guide_picture(dispatcher, tmp_path):
    out = io.StringIO()
    lines = iter(["1", "1", "1", "1", "/quit"])  # Tiếng Việt, đồng ý, bỏ qua, hướng dẫn
    await run_console(dispatcher.handle, ConsoleChannel(out=out, picture_dir=tmp_path), read_line=lambda: next(lines))
    assert "Bước 1/3" in out.getvalue()
    assert list(tmp_path.glob("guide*.png"))
