"""The reconciliation of the two sides over a synced reference world: it finds exactly the
police-only and grid-only things and the disagreements the world lists, per grid; a
partner gets counts within its rows through ``GET /v1/stats/reconciliation`` (audited),
a steward the lists through ``hub report reconcile --lists`` (audited, sensitive values
masked)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from typer.testing import CliRunner

from hub.api import create_app
from hub.audit import AuditEvent, AuditLog
from hub.auth import ClientRegistry
from hub.cli import app as cli
from hub.config import HubConfig, load_config, open_store
from hub.ingest.run import run_sources
from hub.ingest.sources import save_sources
from hub.policyfiles import POLICIES_DIR, PolicyRegistry
from hub.reference.serve import serve_in_thread
from hub.reference.systems import reference_systems
from hub.reference.world import World
from hub.sharing import reconcile as reconcile_module
from hub.sharing.reconcile import COMPARED, KINDS, Sides, reconcile
from hub.sharing.service import EVERY_ROW
from hub.store import Store
from tests.conftest import BACKENDS, hub_home
from tests.web.browser import Pages, chromium

PEOPLE, SEED = 300, 3
PASSWORD = "correct horse battery staple"  # noqa: S105 (the test steward's own)


@dataclass
class Synced:
    config: HubConfig
    world: World
    url: str
    secrets: dict[str, tuple[str, str]]
    grid: str
    """A grid with every kind of planted person."""

    def store(self) -> Store:
        return open_store(self.config)

    def get(self, partner: str, **params: str) -> httpx.Response:
        client_id, secret = self.secrets[partner]
        with httpx.Client(base_url=self.url) as http:
            answer = http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
            )
            token = answer.json()["access_token"]
            return http.get(
                "/v1/stats/reconciliation",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )

    def events(self, action: str) -> list[AuditEvent]:
        store = self.store()
        try:
            found = AuditLog.for_store(store).search(action=action, limit=10_000)
        finally:
            store.close()
        return [entry.event for entry in found]


def _richest_grid(world: World) -> str:
    planted = Counter(g.grid_code for g in world.gaps if g.kind == "person")
    planted += Counter(d.grid_code for d in world.disagreements if d.kind == "person")
    return planted.most_common(1)[0][0]


@pytest.fixture(scope="module", params=BACKENDS)
def synced(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Synced]:
    with hub_home(request.param, tmp_path_factory.mktemp("hub")) as home:
        password = home.parent / "password"
        password.write_text(PASSWORD + "\n", encoding="utf-8")
        for name, role in (("steward", "steward"), ("viewer", "viewer")):
            args = ["users", "add", name, "--role", role, "--password-file", str(password)]
            added_user = CliRunner().invoke(cli, [*args, "--home", str(home)])
            assert added_user.exit_code == 0, added_user.output
        config = load_config(home)
        with reference_systems(home / "reference", people=PEOPLE, seed=SEED) as refs:
            save_sources(home, refs.sources)
            store = open_store(config)
            try:
                report = run_sources(store, refs.sources, expectations=False)
                assert report.ok
                report.save(home)
                grid = _richest_grid(refs.world)
                registry = ClientRegistry(store)
                reads = ["person.read", "house.read"]
                added = {
                    "grid": registry.add("grid", "grid-platform", reads, {"grid_codes": [grid]}),
                    "police": registry.add(
                        "police",
                        "police-station",
                        [*reads, "unit.read"],
                        {"beat_codes": ["B" + grid[1:-1]]},
                    ),
                }
            finally:
                store.close()
        secrets = {name: (new.client.client_id, new.secret or "") for name, new in added.items()}
        with serve_in_thread(create_app(config)) as server:
            yield Synced(config, refs.world, server.url, secrets, grid)


def _expected(
    synced: Synced, store: Store, kind: str, grids: set[str] | None = None
) -> dict[str, Any]:
    """The world's listing, per (link key, grid): gaps as statuses, disagreements as facts."""
    inside = lambda grid: grids is None or grid in grids  # noqa: E731
    gaps = {
        (store.link_key(g.key), g.grid_code): f"{g.side}_only"
        for g in synced.world.gaps
        if g.kind == kind and inside(g.grid_code)
    }
    facts = {
        (store.link_key(d.key), d.grid_code, d.field)
        for d in synced.world.disagreements
        if d.kind == kind and inside(d.grid_code)
    }
    return {"gaps": gaps, "facts": facts}


def test_it_finds_exactly_the_gaps_and_disagreements_the_world_plants(synced: Synced) -> None:
    world = synced.world
    # The world plants them in (nearly) every grid, each kind of fact somewhere.
    assert len({g.grid_code for g in world.gaps if g.kind == "person" and g.side == "grid"}) > 30
    assert {(d.kind, d.field) for d in world.disagreements} >= {
        ("person", "phone"),
        ("person", "address"),
        ("person", "household_type"),
        ("house", "occupant_count"),
        ("unit", "phone"),
    }
    store = synced.store()
    try:
        policies = PolicyRegistry(AuditLog.for_store(store), synced.config.home / POLICIES_DIR)
        sides = Sides.of_hub(synced.config.home, store, policies)
        for kind in KINDS:
            things = reconcile(store, kind, EVERY_ROW, sides, list(COMPARED[kind]))
            found = {
                (t.link_key, grid): t.status
                for t in things
                for grid in t.grids
                if t.status != "both"
            }
            facts = {
                (t.link_key, grid, f) for t in things for grid in t.grids for f in t.disagreements
            }
            expected = _expected(synced, store, kind)
            assert found == expected["gaps"], kind
            assert facts == expected["facts"], kind
            assert Counter(t.status for t in things)["both"] > 0
    finally:
        store.close()


def _counts_of(synced: Synced, kind: str, grids: set[str]) -> dict[str, dict[str, Any]]:
    """What the counts of ``grids`` must be: the world's listing, counted per grid."""
    store = synced.store()
    try:
        expected = _expected(synced, store, kind, grids)
        policies = PolicyRegistry(AuditLog.for_store(store), synced.config.home / POLICIES_DIR)
        sides = Sides.of_hub(synced.config.home, store, policies)
        things = reconcile(store, kind, EVERY_ROW, sides, list(COMPARED[kind]))
    finally:
        store.close()
    counts: dict[str, dict[str, Any]] = {}
    both = Counter(g for t in things if t.status == "both" for g in t.grids if g in grids)
    for grid in grids:
        gaps = Counter(s for (_k, g), s in expected["gaps"].items() if g == grid)
        facts = Counter(f for _k, g, f in expected["facts"] if g == grid)
        counts[grid] = {
            "grid_code": grid,
            "police_only": gaps["police_only"],
            "grid_only": gaps["grid_only"],
            "both": both[grid],
            "disagreements": {fact: facts[fact] for fact in COMPARED[kind]},
        }
    return counts


def test_a_partner_gets_the_counts_of_its_own_rows_and_is_audited(synced: Synced) -> None:
    grid = synced.grid
    answer = synced.get("grid", kind="person", grid=grid, purpose="网格服务")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["grids"] == [_counts_of(synced, "person", {grid})[grid]]
    assert body["grids"][0]["police_only"]
    assert body["grids"][0]["grid_only"]
    assert body["withheld"] == []
    # No grid named: still only its own grid; another grid: nothing.
    assert synced.get("grid", kind="person", purpose="网格服务").json()["grids"] == body["grids"]
    other = next(g.grid_code for g in synced.world.gaps if g.grid_code != grid)
    assert synced.get("grid", kind="person", grid=other, purpose="网格服务").json()["grids"] == []
    # The police station: the three grids of its beat; houses too.
    beat = {g.grid_code for g in synced.world.gaps if g.grid_code[:-1] == grid[:-1]}
    police = synced.get("police", kind="house", purpose="社区警务").json()
    assert {g["grid_code"] for g in police["grids"]} <= beat
    assert police["grids"] == sorted(
        _counts_of(synced, "house", {g["grid_code"] for g in police["grids"]}).values(),
        key=lambda g: g["grid_code"],
    )
    # A kind its token and policy do not grant: refused, and audited.
    refused = synced.get("grid", kind="unit", purpose="网格服务")
    assert refused.status_code == 403
    events = synced.events("stats.reconciliation")
    client_id = synced.secrets["grid"][0]
    mine = [e for e in events if e.client_id == client_id and e.outcome == "allowed"]
    assert len(mine) == 3
    assert mine[0].filters == {"grid_code__eq": grid}
    assert mine[0].detail["totals"]["grid_only"] == body["totals"]["grid_only"]
    assert mine[0].record_ids == []  # counts only: no record, no field went out
    assert mine[0].fields == {}
    assert (mine[0].policy_id, mine[0].policy_version) == ("grid-platform", 3)


def test_the_reconciliation_route_is_not_taken_by_a_stats_kind_route(synced: Synced) -> None:
    """``/v1/stats/reconciliation`` is included before any ``/v1/stats/{kind}`` (one is
    added here after it, as the aggregates' router is): the literal path still reaches
    the reconciliation (401 without a token), the parametrized one everything else. With
    such a router merged, the partner test above also goes through the real one."""
    app = create_app(synced.config)

    def taken(kind: str) -> dict[str, str]:
        return {"taken_by": kind}

    app.add_api_route("/v1/stats/{kind}", taken)
    with serve_in_thread(app) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/v1/stats/person").json() == {"taken_by": "person"}
        literal = http.get("/v1/stats/reconciliation")
        assert literal.status_code == 401
        assert "taken_by" not in literal.text


def test_a_steward_lists_them_at_the_cli_audited_with_sensitive_values_masked(
    synced: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid, home = synced.grid, str(synced.config.home)
    done = CliRunner().invoke(
        cli, ["report", "reconcile", "--grid", grid, "--kind", "person", "--lists", "--home", home]
    )
    assert done.exit_code == 0, done.output
    listed = [json.loads(line) for line in done.output.splitlines()]
    expected = _counts_of(synced, "person", {grid})[grid]
    statuses = Counter(thing["status"] for thing in listed)
    assert statuses["police_only"] == expected["police_only"]
    assert statuses["grid_only"] == expected["grid_only"]
    facts = Counter(f for thing in listed for f in thing["disagreements"])
    assert {f: facts[f] for f in COMPARED["person"]} == expected["disagreements"]
    phones = [v for t in listed for v in t["disagreements"].get("phone", [])]
    assert phones
    assert all("*" in v["value"] for v in phones)
    assert all(thing["key"].count("*") == 12 for thing in listed)
    clear = [p["id_number"] for p in synced.world.people] + [
        p["phone"] for p in synced.world.people
    ]
    assert not [value for value in clear if value in done.output]
    [event] = [e for e in synced.events("reconcile.read") if e.filters == {"grid_code__eq": grid}]
    assert str(event.subject).startswith("cli:")
    assert len(event.record_ids) == sum(len(t["records"]) for t in listed)
    assert event.fields["masked"] == ["id_number", "phone"]
    # Every grid's, read a few things at a time.
    monkeypatch.setattr(reconcile_module, "CHUNK", 7)
    every = CliRunner().invoke(
        cli, ["report", "reconcile", "--kind", "house", "--lists", "--home", home]
    )
    assert every.exit_code == 0, every.output
    houses = [json.loads(line) for line in every.output.splitlines()]
    store = synced.store()
    try:
        world = _expected(synced, store, "house")
    finally:
        store.close()
    assert len(houses) == len({k for k, _g in world["gaps"]} | {k for k, _g, _f in world["facts"]})
    assert all(h["title"] for h in houses if h["status"] != "grid_only")  # the owner's name
    # The counts for every kind, as tables; a run's report is still `hub report [RUN_ID]`.
    table = CliRunner().invoke(cli, ["report", "reconcile", "--home", home], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert table.output.count("total") == 3
    assert CliRunner().invoke(cli, ["report", "latest", "--home", home]).exit_code == 0
    assert CliRunner().invoke(cli, ["report", "run", "latest", "--home", home]).exit_code == 0
    bad = CliRunner().invoke(cli, ["report", "reconcile", "--grid", "G\x01", "--home", home])
    assert bad.exit_code == 2


def test_a_profile_merges_the_linked_records_and_flags_what_they_disagree_on(
    synced: Synced,
) -> None:
    [phone, *_] = [
        d.key
        for d in synced.world.disagreements
        if (d.kind, d.field, d.grid_code) == ("person", "phone", synced.grid)
    ]
    differing = {d.field for d in synced.world.disagreements if d.key == phone}
    client_id, secret = synced.secrets["police"]
    with httpx.Client(base_url=synced.url) as http:
        token = http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        params = {"purpose": "社区警务", "id_number": phone}
        [item, *_] = http.get("/v1/records/person", params=params, headers=headers).json()["items"]
        profile = http.get(
            f"/v1/profiles/person/{item['id']}", params={"purpose": "社区警务"}, headers=headers
        ).json()
    linked = profile["sections"]["linked"]["items"]
    assert {i["source"] for i in linked} == {"police_db", "grid_platform"}
    merged = profile["merged"]
    assert merged["phone"]["disagree"] is True
    latest = max(linked, key=lambda i: i["updated"])
    [source] = [i for i in linked if i["source"] == merged["phone"]["source"]]
    assert merged["phone"]["value"] == source["record"]["phone"]
    assert merged["phone"]["updated"] == latest["updated"]
    assert merged["name"]["disagree"] is False
    assert merged["household_type"]["disagree"] is ("household_type" in differing)
    assert set(merged) == set(linked[0]["record"])  # the fields the policy serves, no more
    # A house: the occupant count the grid platform holds differently.
    [house] = [
        d.key
        for d in synced.world.disagreements
        if (d.kind, d.field, d.grid_code) == ("house", "occupant_count", synced.grid)
    ]
    with httpx.Client(base_url=synced.url) as http:
        params = {"purpose": "社区警务", "house_code": house}
        [item, *_] = http.get("/v1/records/house", params=params, headers=headers).json()["items"]
        merged = http.get(
            f"/v1/profiles/house/{item['id']}", params={"purpose": "社区警务"}, headers=headers
        ).json()["merged"]
    assert merged["occupant_count"]["disagree"] is True
    assert merged["address_code"]["disagree"] is False


@pytest.mark.browser
@pytest.mark.slow
def test_a_steward_reads_the_reconciliation_page(synced: Synced, tmp_path: Path) -> None:
    grid = synced.grid
    expected = _counts_of(synced, "person", {grid})[grid]
    store = synced.store()
    try:
        world = _expected(synced, store, "person", {grid})
    finally:
        store.close()
    to_visit = {link for link, _g in world["gaps"]} | {link for link, _g, _f in world["facts"]}
    with chromium(tmp_path) as driver:
        pages = Pages(driver, synced.url, tmp_path / "screenshots")
        pages.sign_in("viewer", PASSWORD)
        pages.go("/console/reconciliation")
        assert "无权访问" in pages.text()  # a viewer's role does not reach it
        pages.go("/console/sign-in")
        pages.sign_in("steward", PASSWORD)
        pages.go("/console/reconciliation")
        rows = driver.find_elements(By.CSS_SELECTOR, "#counts tbody tr")
        assert len(rows) > 30  # every grid, and the total
        pages.shot("reconciliation-counts")
        driver.find_element(By.LINK_TEXT, grid).click()
        listed = driver.find_elements(By.CSS_SELECTOR, "#things tbody tr")
        assert len(listed) == len(to_visit)
        for status in ("police_only", "grid_only"):
            shown = driver.find_elements(By.CSS_SELECTOR, f"#things tr.{status}")
            assert len(shown) == expected[status]
        pages.shot("reconciliation-grid")
        source = driver.page_source
    assert not [p for p in synced.world.people if p["id_number"] in source]
    [event] = [
        e
        for e in synced.events("reconcile.read")
        if e.subject == "console:steward" and e.filters == {"grid_code__eq": grid}
    ]
    assert event.detail["door"] == "console"
