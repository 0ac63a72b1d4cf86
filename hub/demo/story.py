"""The demo's story of the two-way loop, told through the hub's own API as the partners
would use it, each step delivered to the other side's webhook receiver:

the police station dispatches a work order (派单) for a house it suspects is a 群租房; the
grid platform signs for it (签收) and starts (处置中); its worker visits the house and records
the visit (走访核查); it submits the corrected use and occupant count for review (上报); the
police accept it into the record (审核入库); the grid feeds back (已反馈); the police close
the order (已办结). Each side's receiver checks every delivery's Standard Webhooks signature
with the ``standardwebhooks`` package, as a partner would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console

from hub.api import create_app
from hub.audit import AuditLog
from hub.auth.clients import ClientRegistry
from hub.config import HubConfig, open_store
from hub.events.delivery import Deliverer, DeliveryOptions
from hub.policyfiles import POLICIES_DIR, PolicyRegistry
from hub.reference.receiver import WebhookReceiver
from hub.reference.serve import serve_in_thread
from hub.sharing import Sharing

POLICE_EVENTS = ["work_order.transitioned", "review.submitted", "visit.recorded"]
GRID_EVENTS = ["work_order.dispatched", "work_order.transitioned", "review.decided"]


class StoryError(Exception):
    """A step of the story was answered otherwise than the loop promises."""


@dataclass
class Side:
    name: str
    client_id: str
    secret: str
    purpose: str
    receiver: WebhookReceiver
    token: str = ""
    seen: int = 0


@dataclass
class Story:
    http: httpx.Client
    police: Side
    grid: Side
    deliver: Callable[[], int]
    console: Console

    def call(self, side: Side, method: str, path: str, body: Any = None, **params: Any) -> Any:
        answer = self.http.request(
            method,
            path,
            params={"purpose": side.purpose, **params},
            json=body,
            headers={"Authorization": f"Bearer {side.token}"},
        )
        if answer.status_code >= 300:
            raise StoryError(
                f"{side.name}: {method} {path} answered {answer.status_code}: {answer.text[:500]}"
            )
        return answer.json() if answer.content else None

    def step(self, who: Side, what: str) -> None:
        """Print the step, deliver what it told, print what reached each receiver."""
        self.console.print(f"[bold]{who.name}[/bold] {what}")
        self.deliver()
        for side in (self.police, self.grid):
            for arrival in side.receiver.take_new(side.seen):
                side.seen += 1
                self.console.print(
                    f"    → {side.name} webhook: {arrival.type} {_gist(arrival.data)}"
                )


def _gist(data: dict[str, Any]) -> str:
    record = data.get("record") or {}
    fields = record.get("record", record) if isinstance(record, dict) else {}
    shown = {
        k: data[k] for k in ("kind", "step", "from", "to", "decision", "reason") if data.get(k)
    }
    shown |= {
        k: fields[k]
        for k in ("order_type", "status", "result", "use", "occupant_count", "side")
        if isinstance(fields, dict) and fields.get(k) is not None
    }
    return ", ".join(f"{k}={v}" for k, v in shown.items())


@contextmanager
def _served(config: HubConfig) -> Iterator[tuple[str, Callable[[], int]]]:
    """The hub served on a free loopback port (receivers on loopback allowed), and a
    function that runs the delivery worker until nothing is due."""
    demo = config.model_copy(update={"webhook_loopback": True})
    store = open_store(demo)
    log = AuditLog.for_store(store)
    sharing = Sharing(store, log, PolicyRegistry(log, demo.home / POLICIES_DIR))
    deliverer = Deliverer(sharing, ClientRegistry(store), DeliveryOptions(allow_loopback=True))

    def drain() -> int:
        sent = 0
        while results := deliverer.run_once():
            sent += len(results)
        return sent

    try:
        with serve_in_thread(create_app(demo)) as server:
            yield server.url, drain
    finally:
        deliverer.close()
        store.close()


def tell(config: HubConfig, partners: list[dict[str, Any]], console: Console) -> dict[str, Any]:
    """Run the story; returns the closed order, with its history, as the police see it."""
    by_policy = {p["policy"]: p for p in partners}
    police_p, grid_p = by_policy["police-station"], by_policy["grid-platform"]
    with ExitStack() as stack:
        url, drain = stack.enter_context(_served(config))
        sides = []
        for p, name in ((police_p, "派出所"), (grid_p, "网格平台")):
            receiver = WebhookReceiver(name)
            served = stack.enter_context(serve_in_thread(receiver))
            sides.append((Side(name, p["client_id"], p["secret"], p["purpose"], receiver), served))
        http = stack.enter_context(httpx.Client(base_url=url, timeout=30))
        police, grid = sides[0][0], sides[1][0]
        story = Story(http, police, grid, drain, console)
        for (side, served), events in zip(sides, (POLICE_EVENTS, GRID_EVENTS), strict=True):
            side.token = _token(http, side)
            made = story.call(side, "POST", "/v1/subscriptions", {
                "url": served.url, "events": events, "purpose": side.purpose,
            })  # fmt: skip
            side.receiver.secret = made["secret"]
        return _loop(story, police_p["claims"]["beat_codes"][0], grid_p["claims"]["grid_codes"][0])


def _token(http: httpx.Client, side: Side) -> str:
    answer = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(side.client_id, side.secret),
    )
    if answer.status_code != 200:
        raise StoryError(f"{side.name}: no token: {answer.text[:300]}")
    token: str = answer.json()["access_token"]
    return token


def _loop(story: Story, beat: str, grid_code: str) -> dict[str, Any]:
    police, grid = story.police, story.grid
    houses = story.call(
        police, "GET", "/v1/records/house", grid_code=grid_code, beat_code=beat, limit=50
    )["items"]
    if not houses:
        raise StoryError(f"no house in grid {grid_code} and beat {beat}")
    house = max(houses, key=lambda h: (h["record"]["use"] == "出租", h["record"]["occupant_count"]))
    code = house["record"]["house_code"]
    order = story.call(police, "POST", "/v1/work-orders", {
        "receiving_org": grid.client_id, "grid_code": grid_code, "beat_code": beat,
        "order_type": "群租房核查", "priority": "紧急",
        "instruction": f"群众反映{code}疑似群租，请核查实际居住人数并上报",
        "related": {"kind": "house", "id": house["id"]},
    })  # fmt: skip
    story.step(police, f"派单 {order['order_id']} for house {code}")

    [mine] = story.call(grid, "GET", "/v1/work-orders", status="派发")["items"]
    path = f"/v1/work-orders/{mine['id']}/transitions"
    for step in ("签收", "处置中"):
        mine = story.call(grid, "POST", path, {"step": step, "version": mine["version"]})
        story.step(grid, f"{step} (version {mine['version']})")

    # The grid sees every source's copy of the house (its own accepted report among them,
    # when the demo runs again): a visit to any copy verifies the one real house.
    seen = story.call(grid, "GET", "/v1/records/house", house_code=code)["items"][0]
    visit = story.call(grid, "POST", "/v1/verifications", {
        "kind": "house", "id": seen["id"], "result": "信息变更", "visitor": "网格员 王芳",
        "note": "实际居住11人，隔断出租", "purpose": "走访核查",
    })  # fmt: skip
    story.step(grid, f"走访核查 recorded: {visit['result']}")

    fields = ("house_code", "address_code", "grid_code", "beat_code")
    corrected = {k: seen["record"][k] for k in fields if seen["record"].get(k)}
    corrected |= {"beat_code": beat, "use": "群租", "occupant_count": 11}
    story.call(grid, "POST", "/v1/submissions/house", {
        "records": [{"source_key": f"HR-{code}", "record": corrected}],
    })  # fmt: skip
    story.step(grid, "上报 the corrected house (群租, 11 occupants) for review")

    [pending] = story.call(police, "GET", "/v1/reviews/house", status="pending")["items"]
    story.call(police, "POST", f"/v1/reviews/house/{pending['id']}/decision", {
        "decision": "accept", "reason": "核实属实，纳入群租房管理",
    })  # fmt: skip
    story.step(police, "审核入库: accepted")

    mine = story.call(grid, "POST", path, {
        "step": "已反馈", "version": mine["version"],
        "feedback": "已入户核查：隔断群租，居住11人，已登记并告知房东整改",
    })  # fmt: skip
    story.step(grid, "已反馈")

    [theirs] = story.call(police, "GET", "/v1/work-orders", status="已反馈")["items"]
    closed = story.call(police, "POST", f"/v1/work-orders/{theirs['id']}/transitions", {
        "step": "已办结", "version": theirs["version"], "note": "整改到位",
    })  # fmt: skip
    story.step(police, f"已办结 (version {closed['version']})")
    result: dict[str, Any] = story.call(police, "GET", f"/v1/work-orders/{theirs['id']}")
    return result
