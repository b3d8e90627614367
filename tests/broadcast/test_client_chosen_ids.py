"""Issue 20, finding 5: the web chat's user id is whatever the browser
posts, so no staff role may hang on it. `troly admin grant admin web:boss`
used to make anyone posting `user_id: "boss"` an admin who could broadcast."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.config import RolesSettings, Settings
from bot.roles import Role, RoleError
from storage.roles import RoleStore
from tests.broadcast.conftest import ADMIN, CONFIG_ADMIN, says
from tests.broadcast.test_cli import troly, write_config


async def test_granting_a_role_to_a_web_chat_id_is_refused(roles, staff, storage):
    with pytest.raises(RoleError, match="chosen by the browser"):
        await roles.grant("web:boss", Role.ADMIN, ADMIN)
    assert not await roles.has("web", "boss", Role.ADMIN)
    # Whoever posts user_id "boss" is an ordinary citizen: no broadcast, no listing.
    assert await staff.handle(says("web:boss", "/broadcast Mọi người đóng phí tại evil.example")) is None
    assert await staff.handle(says("web:boss", "/broadcasts")) is None
    assert [row["action"] for row in await storage.list_audit()] == []


async def test_a_web_grant_made_before_the_fix_gives_no_power(roles, staff, storage):
    await RoleStore(storage).grant("web", "boss", "admin", ADMIN)  # a row an older version wrote
    assert await roles.roles_of("web", "boss") == set()
    assert await staff.handle(says("web:boss", "/broadcasts")) is None
    assert await roles.revoke("web:boss", Role.ADMIN, ADMIN)  # and it can still be cleaned up


async def test_an_admin_in_chat_gets_a_clear_refusal(staff, roles):
    [reply] = await staff.handle(says(CONFIG_ADMIN, "/grant admin web:boss"))
    assert "chosen by the browser" in reply.text and "telegram" in reply.text
    assert not await roles.has("web", "boss", Role.ADMIN)


async def test_the_console_keeps_its_roles(roles):
    """The console is local: whoever can type `troly chat --user` can run `troly admin` too."""
    assert await roles.grant("console:officer1", Role.OFFICER, ADMIN)
    assert await roles.has("console", "officer1", Role.OFFICER)


async def test_the_command_line_refuses_a_web_id_with_a_clear_message(tmp_path, sqlite_storage, sqlite_url):
    config = write_config(tmp_path, sqlite_url)
    code, out, err = await troly(config, "admin", "grant", "admin", "web:boss")
    assert code == 2 and "chosen by the browser" in err and "Traceback" not in err, (out, err)
    code, out, _ = await troly(config, "admin", "list")
    assert "web:boss" not in out


@pytest.mark.parametrize("field", ["admins", "officers", "outreach"])
def test_a_web_id_in_config_roles_is_a_configuration_error(field):
    with pytest.raises(ValidationError, match="chosen by the browser"):
        RolesSettings.model_validate({field: ["telegram:1", "web:boss"]})
    assert Settings.model_validate({"roles": {field: ["console:me", "telegram:1"]}}).roles


async def test_troly_refuses_to_start_with_a_web_id_in_config_roles(tmp_path, sqlite_url):
    config = write_config(tmp_path, sqlite_url)
    config.write_text(config.read_text(encoding="utf-8") + "roles: {admins: ['web:boss']}\n", encoding="utf-8")
    code, out, err = await troly(config, "admin", "list")
    assert code == 2 and "configuration error" in err and "roles.admins" in err and "web:boss" in err, (out, err)
    assert "Traceback" not in err
