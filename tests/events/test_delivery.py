"""Deliveries to real HTTP receivers, on both backends, with an injected clock: each
subscriber gets each event exactly as its policy allows it, signed (verified with the
``standardwebhooks`` package), retried with backoff after 500s under one webhook-id,
dead-lettered after N attempts, replayed, and audited as an access before it leaves."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from standardwebhooks import Webhook
from typer.testing import CliRunner

from hub.auth import ClientRegistry
from hub.cli import app as cli
from hub.events import emit, record_changed
from hub.events.delivery import Deliverer, DeliveryResult
from hub.ingest.sync import admit_rows, new_run_id, push_stream
from hub.sharing.ids import RecordIds
from hub.store.tables import deliveries, outbox, subscriptions
from tests.data import ID_NUMBERS, make_records
from tests.events.conftest import (
    GRID,
    SUBSCRIBE,
    TEST_POLICIES,
    Clock,
    EventsHub,
    Partner,
    Receiver,
)


def _changed(hub: EventsHub, *people: str) -> list[str]:
    with hub.store.begin() as tx:
        return [
            emit(tx, "record.changed:person", kind="person", record_id=hub.people[p])
            for p in people
        ]


def _drain(worker: Deliverer) -> list[DeliveryResult]:
    results: list[DeliveryResult] = []
    while batch := worker.run_once():
        results += batch
    return results


def _payloads(receiver: Receiver, secret: str) -> list[Any]:
    """Every body that arrived, each verified against its signature headers."""
    return [Webhook(secret).verify(a.body, a.headers) for a in receiver.arrivals]


def _next_attempt(hub: EventsHub, subscription: str) -> dt.datetime:
    query = select(deliveries.c.next_attempt_at).where(deliveries.c.subscription_id == subscription)
    with hub.store.engine.connect() as conn:
        found: dt.datetime = conn.execute(query).scalar_one()
    return found


def test_each_subscriber_gets_the_record_as_its_policy_shows_it(hub: EventsHub) -> None:
    grid_rx, police_rx = hub.receiver(), hub.receiver()
    grid, grid_secret = hub.subscribe(
        "grid", grid_rx.url, ["record.changed:person"], "网格服务", {"household_type": "户籍"}
    )
    police, police_secret = hub.subscribe(
        "police", police_rx.url, ["record.changed:person"], "社区警务"
    )
    events = _changed(hub, "in_grid", "migrant", "elsewhere")
    with hub.deliverer(Clock()) as (worker, _):
        _drain(worker)

    [seen] = _payloads(grid_rx, grid_secret)  # the migrant fails the filter; elsewhere, the scope
    assert grid_rx.ids() == [events[0]]
    assert seen["type"] == "record.changed:person"
    assert seen["data"]["kind"] == "person"
    view = seen["data"]["record"]
    ids = RecordIds(hub.store)
    assert view["id"] == ids.encode(hub.partners["grid"].client_id, "person", hub.people["in_grid"])
    assert view["source"] == "police_db"
    assert view["record"]["name"] == "张伟"
    assert view["record"]["id_number"] == "320104************"
    assert view["record"]["phone"] == "138****5678"
    assert view["record"]["birth_date"] == 1990
    assert "police_tags" not in view["record"]
    assert hub.statuses(grid) == [("delivered", 1), ("filtered", 0), ("filtered", 0)]

    full = _payloads(police_rx, police_secret)
    assert sorted(police_rx.ids()) == sorted(events)
    assert {p["data"]["record"]["record"]["id_number"] for p in full} == set(ID_NUMBERS)
    assert all(p["data"]["record"]["record"]["police_tags"] == ["重点关注"] for p in full)
    assert view["id"] not in {p["data"]["record"]["id"] for p in full}  # ids are per partner
    assert hub.statuses(police) == [("delivered", 1)] * 3


def test_each_delivery_is_audited_as_an_access_and_no_clear_value_is_logged(
    hub: EventsHub,
) -> None:
    rx = hub.receiver()
    sub, _ = hub.subscribe("grid", rx.url, ["record.changed:person"], "网格服务")
    [event, _outside] = _changed(hub, "in_grid", "elsewhere")
    with hub.deliverer(Clock()) as (worker, _log):
        _drain(worker)
    [entry] = [e for e in hub.audit("events.sent") if e.event.detail["subscription"] == sub]
    audited = entry.event
    assert audited.client_id == hub.partners["grid"].client_id
    assert audited.subject == f"webhook:{sub}"
    assert audited.purpose == "网格服务"
    assert audited.record_ids == [f"person/{hub.people['in_grid']}"]
    assert audited.detail == {"event": event, "type": "record.changed:person",
                              "subscription": sub, "attempt": 1}  # fmt: skip
    assert {"id_number", "phone"} <= set(audited.fields["masked"])
    assert "name" in audited.fields["clear"]
    assert audited.fields["year_only"] == ["birth_date"]
    assert "police_tags" in audited.fields["withheld"]
    assert (audited.policy_id, audited.policy_version) == ("grid-platform", 3)
    log = json.dumps([e.event.model_dump(mode="json") for e in hub.audit("events.sent")])
    assert all(number not in log for number in ID_NUMBERS)


def test_retries_after_500_with_backoff_under_one_webhook_id(hub: EventsHub) -> None:
    rx = hub.receiver(fail=2)
    sub, secret = hub.subscribe("grid", rx.url, ["work_order.transitioned"], "网格服务")
    step = {"from": "签收", "to": "处置中", "step": "处置", "version": 3}
    with hub.store.begin() as tx:
        event = emit(tx, "work_order.transitioned", kind="work_order",
                     record_id=hub.work_order, data=step)  # fmt: skip
    clock = Clock()
    with hub.deliverer(clock, attempts=5) as (worker, _):
        for attempt, (low, high) in enumerate([(1, 2), (2, 3)], start=1):
            [failed] = worker.run_once()
            assert (failed.status, failed.http_status) == ("pending", 500)
            assert hub.statuses(sub) == [("pending", attempt)]
            assert worker.run_once() == []  # not due before its backoff has passed
            wait = _next_attempt(hub, sub) - clock.now
            assert dt.timedelta(seconds=low) <= wait <= dt.timedelta(seconds=high)
            clock.advance(wait)
        [done] = worker.run_once()
    assert (done.status, done.http_status) == ("delivered", 200)
    assert hub.statuses(sub) == [("delivered", 3)]
    assert rx.ids() == [event] * 3
    assert [a.answered for a in rx.arrivals] == [500, 500, 200]
    payloads = _payloads(rx, secret)
    assert payloads[0] == payloads[2]
    data = payloads[0]["data"]
    assert {k: data[k] for k in step} == step
    assert data["record"]["record"]["order_id"] == "W20261101001"
    assert data["record"]["record"]["status"] == "签收"
    assert "beat_code" not in data["record"]["record"]  # not granted to the grid


def test_a_forged_or_stale_signature_does_not_verify(hub: EventsHub) -> None:
    rx = hub.receiver()
    _, secret = hub.subscribe("grid", rx.url, ["record.changed:person"], "网格服务")
    _changed(hub, "in_grid")
    with hub.deliverer(Clock()) as (worker, _):
        _drain(worker)
    [arrival] = rx.arrivals
    other = Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=")
    with pytest.raises(Exception, match="signature"):
        other.verify(arrival.body, arrival.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(
            arrival.body.replace("张伟".encode(), "李四".encode()), arrival.headers
        )


def test_dead_letter_after_n_attempts_then_replay(hub: EventsHub) -> None:
    rx = hub.receiver(fail=1000)
    sub, _ = hub.subscribe("grid", rx.url, ["record.changed:person"], "网格服务")
    [event] = _changed(hub, "in_grid")
    clock = Clock()
    with hub.deliverer(clock, attempts=3) as (worker, _):
        outcomes = []
        for _ in range(3):
            outcomes += worker.run_once()
            clock.advance(dt.timedelta(hours=1))
        assert worker.run_once() == []
    assert [o.status for o in outcomes] == ["pending", "pending", "dead"]
    assert hub.statuses(sub) == [("dead", 3)]
    assert len(rx.arrivals) == 3

    home = str(hub.config.home)
    listed = CliRunner().invoke(cli, ["webhooks", "list", "--json", "--home", home])
    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.stdout)
    [dead] = [d for d in document["dead"] if d["subscription_id"] == sub]
    assert (dead["event_id"], dead["attempts"], dead["last_error"]) == (event, 3, "HTTP 500")
    [mine] = [s for s in document["subscriptions"] if s["id"] == sub]
    assert mine["deliveries"]["dead"] == 1

    rx.fail = 0
    replayed = CliRunner().invoke(cli, ["webhooks", "replay", "--dead", "--home", home])
    assert replayed.exit_code == 0, replayed.output
    assert hub.statuses(sub) == [("pending", 0)]
    [entry] = hub.audit("webhooks.replayed")[-1:]
    assert entry.event.subject.startswith("cli:")
    with hub.deliverer(clock) as (worker, _):
        _drain(worker)
    assert hub.statuses(sub) == [("delivered", 1)]
    assert rx.ids() == [event] * 4


def test_replay_of_one_event_and_of_nothing(hub: EventsHub) -> None:
    rx = hub.receiver()
    sub, _ = hub.subscribe("grid", rx.url, ["record.changed:person"], "网格服务")
    [event] = _changed(hub, "in_grid")
    clock = Clock()
    with hub.deliverer(clock) as (worker, _):
        _drain(worker)
        home = str(hub.config.home)
        again = CliRunner().invoke(cli, ["webhooks", "replay", event, "--home", home])
        assert again.exit_code == 0, again.output
        clock.advance(dt.timedelta(minutes=1))  # replayed: due at the replay's moment
        _drain(worker)
    assert rx.ids() == [event, event]  # a receiver that lost it asked for it again
    for ref in ["evt_nothing", "999999999", "nonsense"]:
        missing = CliRunner().invoke(cli, ["webhooks", "replay", ref, "--home", home])
        assert missing.exit_code == 1
        assert "no delivery or event" in missing.output
    assert CliRunner().invoke(cli, ["webhooks", "replay", "--home", home]).exit_code == 2
    assert hub.statuses(sub) == [("delivered", 1)]


def test_review_decisions_go_to_the_submitter_and_the_reviewers(hub: EventsHub) -> None:
    reporter_rx, reviewer_rx = hub.receiver(), hub.receiver()
    _, reporter_secret = hub.subscribe("reporter", reporter_rx.url, ["review.decided"], "网格服务")
    _, reviewer_secret = hub.subscribe(
        "reviewer", reviewer_rx.url, ["review.submitted", "review.decided"], "社区警务"
    )
    reporter = hub.partners["reporter"].client_id
    decided = {"review_id": "rv_1", "submitter": reporter, "kind": "person",
               "decision": "accept", "reason": None}  # fmt: skip
    with hub.store.begin() as tx:
        submitted = emit(
            tx,
            "review.submitted",
            kind="person",
            data={"review_id": "rv_1", "submitter": reporter, "kind": "person"},
        )
        mine = emit(
            tx, "review.decided", kind="person", record_id=hub.people["in_grid"], data=decided
        )
        others = emit(
            tx,
            "review.decided",
            kind="person",
            data=decided | {"review_id": "rv_2", "submitter": "cl_someone"},
        )
    with hub.deliverer(Clock()) as (worker, _):
        _drain(worker)

    [told] = _payloads(reporter_rx, reporter_secret)
    assert reporter_rx.ids() == [mine]
    assert {k: told["data"][k] for k in decided} == decided
    assert told["data"]["record"]["record"] == {"name": "张伟", "grid_code": GRID}
    assert sorted(reviewer_rx.ids()) == sorted([submitted, mine, others])
    by_id = dict(zip(reviewer_rx.ids(), _payloads(reviewer_rx, reviewer_secret), strict=True))
    assert by_id[mine]["data"]["record"]["record"]["id_number"] == ID_NUMBERS[0]
    assert "record" not in by_id[submitted]["data"]


def test_a_policy_narrowed_after_registration_is_obeyed_at_delivery(hub: EventsHub) -> None:
    narrowing = (TEST_POLICIES / "grid-narrowing.yaml").read_text("utf-8")
    new = ClientRegistry(hub.store).add(
        "narrow", "grid-narrowing", ["person.read", *SUBSCRIBE], {"grid_codes": [GRID]}
    )
    hub.partners["narrow"] = Partner(new.client.client_id, new.secret or "")
    rx = hub.receiver()
    hub.subscribe("narrow", rx.url, ["record.changed:person"], "网格服务")
    _changed(hub, "in_grid")
    version2 = narrowing.replace("version: 1", "version: 2").replace(
        "purposes: [网格服务]", "purposes: [矛盾纠纷调解]"
    )
    (hub.config.home / "policies" / "grid-narrowing.yaml").write_text(version2, "utf-8")
    with hub.deliverer(Clock()) as (worker, _):
        [result] = _drain(worker)
    assert (result.status, result.error) == ("filtered", "purpose")
    assert rx.arrivals == []
    [withheld] = [
        e for e in hub.audit("events.withheld") if e.event.client_id == new.client.client_id
    ]
    assert withheld.event.outcome == "denied"
    assert withheld.event.policy_version == 2
    assert withheld.event.record_ids == [f"person/{hub.people['in_grid']}"]


def test_a_revoked_client_is_sent_nothing(hub: EventsHub) -> None:
    registry = ClientRegistry(hub.store)
    new = registry.add("gone", "grid-platform", ["person.read", *SUBSCRIBE], {"grid_codes": [GRID]})
    hub.partners["gone"] = Partner(new.client.client_id, new.secret or "")
    rx = hub.receiver()
    sub, _ = hub.subscribe("gone", rx.url, ["record.changed:person"], "网格服务")
    _changed(hub, "in_grid")
    registry.revoke(new.client.client_id)
    _changed(hub, "in_grid")  # after revocation: not even queued
    with hub.deliverer(Clock()) as (worker, _):
        [result] = _drain(worker)
    assert (result.status, result.error) == ("filtered", "client_revoked")
    assert hub.statuses(sub) == [("filtered", 0)]
    assert rx.arrivals == []


def test_deleting_a_subscription_drops_what_it_had_pending(hub: EventsHub) -> None:
    rx = hub.receiver()
    sub, _ = hub.subscribe("grid", rx.url, ["record.changed:person"], "网格服务")
    _changed(hub, "in_grid")
    assert hub.call("grid", "DELETE", f"/v1/subscriptions/{sub}").status_code == 204
    _changed(hub, "in_grid")
    with hub.deliverer(Clock()) as (worker, _):
        assert _drain(worker) == []
    assert hub.statuses(sub) == [("filtered", 0)]
    assert rx.arrivals == []


def _outbox(hub: EventsHub, type: str) -> list[int]:
    query = select(outbox.c.record_id).where(outbox.c.type == type).order_by(outbox.c.seq)
    with hub.store.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def test_admission_tells_of_inserted_and_updated_records_only_when_wanted(
    hub: EventsHub,
) -> None:
    house = make_records()["house"].model_dump(mode="json") | {"source_key": "H-1"}
    admit_rows(hub.store, "police_db", push_stream("house"), [house], new_run_id())
    assert _outbox(hub, "record.changed:house") == []  # nobody subscribes to houses

    rx = hub.receiver()
    hub.subscribe("police", rx.url, ["record.changed:person"], "社区警务")
    before = _outbox(hub, "record.changed:person")
    row = make_records()["person"].model_dump(mode="json") | {
        "source_key": "S-1", "id_number": "110101199003077774", "name": "赵六"}  # fmt: skip
    stream = push_stream("person")
    admit_rows(hub.store, "spreadsheet", stream, [row], new_run_id())
    stored = hub.store.get("person", "spreadsheet", "S-1")
    assert stored is not None
    assert _outbox(hub, "record.changed:person") == [*before, stored.id]
    admit_rows(hub.store, "spreadsheet", stream, [row], new_run_id())  # unchanged
    assert _outbox(hub, "record.changed:person") == [*before, stored.id]
    admit_rows(hub.store, "spreadsheet", stream, [row | {"name": "赵七"}], new_run_id())
    assert _outbox(hub, "record.changed:person") == [*before, stored.id, stored.id]
    with hub.store.begin() as tx:
        assert record_changed(tx, [("unit", 1)]) == 0


def test_emit_refuses_what_it_does_not_know(hub: EventsHub) -> None:
    with hub.store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    for wrong in [
        {"type": "person.deleted", "kind": "person", "record_id": 1},
        {"type": "record.changed:spaceship", "kind": "spaceship", "record_id": 1},
        {"type": "work_order.transitioned", "kind": "work_order"},
        {"type": "record.changed:person", "kind": "house", "record_id": 1},
    ]:
        with pytest.raises(ValueError, match=r"event type|kind|record"), hub.store.begin() as tx:
            emit(tx, wrong.pop("type"), **wrong)
    with hub.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == count


def test_a_delivery_the_hub_cannot_render_is_retried_then_dead(hub: EventsHub) -> None:
    rx = hub.receiver()
    sub, _ = hub.subscribe("grid", rx.url, ["record.changed:person"], "网格服务")
    _changed(hub, "in_grid")
    with hub.store.begin() as tx:  # a secret that no longer opens (a lost key)
        tx.conn.execute(
            update(subscriptions).where(subscriptions.c.id == sub).values({"secret": "v1:broken"})
        )
    clock = Clock()
    with hub.deliverer(clock, attempts=2) as (worker, _):
        [first] = worker.run_once()
        clock.advance(dt.timedelta(hours=1))
        [second] = worker.run_once()
    assert first.status == "pending"
    assert first.error is not None
    assert first.error.startswith("hub: ")
    assert second.status == "dead"
    assert hub.statuses(sub) == [("dead", 2)]
    assert rx.arrivals == []


def test_event_facts_are_sent_as_they_were_emitted(hub: EventsHub) -> None:
    rx = hub.receiver()
    _, secret = hub.subscribe("grid", rx.url, ["work_order.dispatched"], "网格服务")
    due = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
    with hub.store.begin() as tx:
        emit(tx, "work_order.dispatched", kind="work_order", record_id=hub.work_order,
             data={"due_at": due, "priority": "高"})  # fmt: skip
    with hub.deliverer(Clock()) as (worker, _):
        _drain(worker)
    [payload] = _payloads(rx, secret)
    assert payload["data"]["due_at"] == "2026-12-03T09:00:00Z"
    assert payload["data"]["priority"] == "高"
    assert payload["data"]["kind"] == "work_order"


def test_a_name_rebound_to_an_address_the_hub_never_calls_is_sent_nothing(
    hub: EventsHub,
) -> None:
    """The subscriber's host name is resolved at each delivery and the connection goes to
    the address checked, under the partner's own Host name: a name that resolved to the
    partner yesterday and to the metadata address (or to loopback, where that is not
    allowed) today gets nothing."""
    rx = hub.receiver()
    port = rx.url.rsplit(":", 1)[1].split("/")[0]
    url = f"http://partner.localhost:{port}/hook"
    sub, _ = hub.subscribe("grid", url, ["work_order.transitioned"], "网格服务")
    answers = {"partner.localhost": ["127.0.0.1"]}

    def resolver(host: str, _port: int) -> list[str]:
        return answers[host]

    def transition() -> None:
        with hub.store.begin() as tx:
            emit(tx, "work_order.transitioned", kind="work_order", record_id=hub.work_order,
                 data={"from": "签收", "to": "处置中", "step": "处置", "version": 3})  # fmt: skip

    transition()
    with hub.deliverer(resolver=resolver) as (worker, _):
        [sent] = _drain(worker)
        assert sent.status == "delivered"
        assert rx.arrivals[0].headers["host"] == f"partner.localhost:{port}"
        for rebound in ("169.254.169.254", "::ffff:169.254.169.254", "224.0.0.1"):
            answers["partner.localhost"] = ["127.0.0.1", rebound]
            transition()
            [refused] = worker.run_once()
            assert (refused.status, refused.error) == ("pending", "url_address")
            with hub.store.engine.begin() as conn:  # not retried within this test
                conn.execute(delete(deliveries).where(deliveries.c.status == "pending"))
    answers["partner.localhost"] = ["127.0.0.1"]
    transition()
    with hub.deliverer(resolver=resolver, allow_loopback=False) as (worker, _):
        [refused] = worker.run_once()
        assert (refused.status, refused.error) == ("pending", "url_loopback")
    assert len(rx.arrivals) == 1, "nothing left the hub after the first delivery"
    assert hub.statuses(sub)[0] == ("delivered", 1)


def test_prune_removes_what_is_done_with_and_keeps_what_is_not(hub: EventsHub) -> None:
    """Old delivered events go; a pending delivery, its event, and (unless asked) a dead
    letter stay; events newer than the cut stay whatever their state."""
    ok, failing = hub.receiver(), hub.receiver(fail=1000)
    sub_ok, _ = hub.subscribe("grid", ok.url, ["record.changed:person"], "网格服务")
    sub_dead, _ = hub.subscribe("police", failing.url, ["record.changed:person"], "社区警务")
    [old] = _changed(hub, "in_grid")
    with hub.deliverer(Clock(), attempts=1) as (worker, _):
        _drain(worker)
    assert sorted(hub.statuses(sub_ok) + hub.statuses(sub_dead)) == [("dead", 1), ("delivered", 1)]
    [waiting] = _changed(hub, "in_grid")  # old too, never attempted: pending
    with hub.store.engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.event_id.in_([old, waiting]))
            .values(at=dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
        )
    [new] = _changed(hub, "in_grid")
    with hub.deliverer(Clock(), attempts=1) as (worker, _):
        done = sorted(r.status for r in _drain(worker))
    home = str(hub.config.home)

    def events() -> list[str]:
        mine = outbox.c.event_id.in_([old, waiting, new])
        with hub.store.engine.connect() as conn:
            return sorted(conn.execute(select(outbox.c.event_id).where(mine)).scalars())

    def pending() -> int:
        with hub.store.engine.connect() as conn:
            query = select(func.count()).where(deliveries.c.status == "pending")
            return int(conn.execute(query.select_from(deliveries)).scalar_one())

    assert done == ["dead", "dead", "delivered", "delivered"], (
        "the waiting event's and the new one's"
    )
    with hub.store.engine.begin() as conn:  # the waiting event's deliveries: not yet due
        seq = select(outbox.c.seq).where(outbox.c.event_id == waiting).scalar_subquery()
        conn.execute(
            update(deliveries)
            .where(deliveries.c.event_seq == seq)
            .values(status="pending", attempts=0, delivered_at=None)
        )
    assert pending() == 2
    pruned = CliRunner().invoke(cli, ["webhooks", "prune", "--older-than", "30d", "--home", home])
    assert pruned.exit_code == 0, pruned.output
    assert "pruned 1 deliveries and 0 events" in pruned.output  # the old dead letter holds it
    assert events() == sorted([old, waiting, new])
    dead_too = ["webhooks", "prune", "--older-than", "30d", "--dead", "--home", home]
    pruned = CliRunner().invoke(cli, dead_too)
    assert pruned.exit_code == 0, pruned.output
    assert "pruned 1 deliveries and 1 events" in pruned.output
    assert events() == sorted([waiting, new])
    assert pending() == 2
    entries = hub.audit("webhooks.pruned")
    assert [(e.event.detail["deliveries"], e.event.detail["events"]) for e in entries] == [
        (1, 0),
        (1, 1),
    ]
    refused = CliRunner().invoke(cli, ["webhooks", "prune", "--older-than", "soon", "--home", home])
    assert refused.exit_code == 2
