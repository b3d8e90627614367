"""`troly demo new|reset`: a fresh demo persona for outreach staff.

`new` files a request for a made-up citizen on the mock backend (through
its public API, as VNeID would), prints the request code and the proof to
type in the bot (last four id digits and birth date), then walks the
request through its statuses with the backend's admin fast-forward, one
step every `--step-seconds`, so villagers watch it move (and get the status
notices) within minutes. `reset` removes the persona from the backend.

Only for the mock backend (simulation): it needs its /admin endpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import httpx

from core.paths import private_dir

STATE_FILE = "var/demo-persona.json"
FINAL = {"COMPLETED", "REJECTED", "CANCELLED"}
NAMES = ("Nguyễn Thị Mai", "Trần Văn Bình", "Lê Thị Hoa", "Phạm Văn Nam", "Hoàng Thị Lan", "Vũ Văn Hùng")


@dataclass
class Persona:
    full_name: str
    id_number: str
    birth_date: str
    province_code: str
    code: str = ""

    @property
    def proof(self) -> str:
        day = date.fromisoformat(self.birth_date)
        return f"4 số cuối CCCD / id last 4: {self.id_number[-4:]}, ngày sinh / birth date: {day:%d/%m/%Y}"


def make_persona(randomness: random.Random, province_code: str = "01") -> Persona:
    """A made-up citizen: 12-digit id (province, century/sex, year, serial)."""
    born = date(randomness.randint(1970, 2004), randomness.randint(1, 12), randomness.randint(1, 28))
    sex_digit = randomness.choice((0, 1)) + (2 if born.year >= 2000 else 0)
    serial = randomness.randint(0, 999_999)
    id_number = f"0{province_code}{sex_digit}{born.year % 100:02d}{serial:06d}"
    return Persona(randomness.choice(NAMES), id_number, born.isoformat(), province_code)


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="demo persona on the mock backend (outreach demos)")
    actions = demo.add_subparsers(dest="demo_action", required=True)
    new = actions.add_parser("new", help="create a demo citizen with a request that moves within minutes")
    new.add_argument("--step-seconds", type=float, default=60.0, help="seconds between status steps (default 60)")
    new.add_argument("--no-follow", action="store_true", help="only create it; do not move it along")
    new.add_argument("--backend", help="mock backend URL (default: backend.url, else mock_host:mock_port)")
    new.add_argument("--state", help=f"where the persona is remembered for reset (default {STATE_FILE})")
    new.set_defaults(handler=new_command)
    reset = actions.add_parser("reset", help="remove the demo persona from the mock backend")
    reset.add_argument("--backend", help="mock backend URL (default: as for `new`)")
    reset.add_argument("--state", help=f"the persona file (default {STATE_FILE})")
    reset.set_defaults(handler=reset_command)


def _context(args: argparse.Namespace) -> tuple[str, dict[str, str], Path]:
    from bot.config import load_settings
    from bot.wiring import mock_admin_token

    settings = load_settings(args.config)
    backend = settings.backend
    url = (args.backend or backend.url or f"http://{backend.mock_host}:{backend.mock_port}").rstrip("/")
    # The token `troly run` / `troly backend` use: the environment's, else var/'s.
    headers = {"Authorization": f"Bearer {mock_admin_token()}"}
    return url, headers, settings.path(args.state or STATE_FILE)


def new_command(args: argparse.Namespace) -> int:
    if not args.step_seconds > 0:
        print("troly demo new: --step-seconds must be positive")
        return 2
    url, headers, state = _context(args)
    return asyncio.run(new_demo(url, headers, state, step_seconds=args.step_seconds, follow=not args.no_follow))


def reset_command(args: argparse.Namespace) -> int:
    url, headers, state = _context(args)
    return asyncio.run(reset_demo(url, headers, state))


async def new_demo(
    url: str,
    headers: dict[str, str],
    state: Path,
    *,
    step_seconds: float,
    follow: bool,
    randomness: random.Random | None = None,
) -> int:
    """Create the persona and (with `follow`) move its request to the end."""
    persona = make_persona(randomness or random.Random())
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
        try:
            if state.exists():
                await _remove(client, state)
            response = await client.post("/api/v1/requests", json={
                "full_name": persona.full_name, "id_number": persona.id_number, "birth_date": persona.birth_date,
                "province_code": persona.province_code, "certificate_type": 1, "purpose": "Demo / trình diễn",
            })  # fmt: skip
        except httpx.HTTPError as error:
            print(
                f"troly demo: the mock backend at {url} is not reachable ({type(error).__name__}). Is `troly run` on?"
            )
            return 1
        if response.status_code != 201:
            print(f"troly demo: the backend refused the demo request ({response.status_code}).")
            return 1
        filed = response.json()
        persona.code = filed["code"]
        private_dir(state.parent)
        state.write_text(json.dumps(asdict(persona), ensure_ascii=False), encoding="utf-8")
        print("Hồ sơ mẫu (mô phỏng) / Demo request (simulation)")
        print(f"  Mã hồ sơ / code: {persona.code}")
        print(f"  {persona.proof}")
        print(f"  Trạng thái / status: {filed['status']}", flush=True)
        if follow:
            await _follow(client, persona.code, step_seconds)
    return 0


async def _follow(client: httpx.AsyncClient, code: str, step_seconds: float) -> None:
    status = ""
    while status not in FINAL:
        await asyncio.sleep(step_seconds)
        response = await client.post(f"/admin/requests/{code}/advance", json={"steps": 1})
        if response.status_code != 200:
            print(f"troly demo: the request could not move on ({response.status_code}); stopping.")
            return
        new = response.json()["status"]
        if new == status:
            return
        status = new
        print(f"  Trạng thái / status: {status}", flush=True)


async def reset_demo(url: str, headers: dict[str, str], state: Path) -> int:
    """Remove the remembered persona from the backend and forget it."""
    if not state.exists():
        print("troly demo reset: no demo persona to remove.")
        return 0
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
        try:
            code = await _remove(client, state)
        except httpx.HTTPError as error:
            print(f"troly demo: the mock backend at {url} is not reachable ({type(error).__name__}).")
            return 1
    print(f"Đã xoá hồ sơ mẫu / demo request removed: {code}")
    return 0


async def _remove(client: httpx.AsyncClient, state: Path) -> str:
    code = json.loads(state.read_text(encoding="utf-8")).get("code", "")
    response = await client.delete(f"/admin/requests/{code}")
    if response.status_code not in (200, 404):  # 404: already gone (backend reset)
        raise httpx.HTTPStatusError("remove failed", request=response.request, response=response)
    state.unlink()
    return code
