"""A real ``hub webhooks deliver`` process killed with SIGKILL while a receiver holds its
request open, then started again: every event still arrives (the one in flight twice,
under the same webhook-id), the store shows every delivery delivered, and the killed
attempt's disclosure was in the audit log before its body left. Both backends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hub.events import emit
from tests.events.conftest import EventsHub

pytestmark = pytest.mark.slow

HUB = shutil.which("hub") or str(Path(sys.executable).with_name("hub"))


def _until(
    done: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 60
    while not done():
        if process.poll() is not None:
            pytest.fail(f"the worker exited before {what}: {log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@contextmanager
def _worker(hub: EventsHub, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [HUB, "webhooks", "deliver", "--home", str(hub.config.home),
               "--lease", "1s", "--poll", "1s", "--timeout", "120"]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_no_event_is_lost_when_the_worker_is_killed_mid_delivery(
    hub: EventsHub, tmp_path: Path
) -> None:
    rx = hub.receiver(stall=1)
    sub, _ = hub.subscribe("grid", rx.url, ["record.changed:person", "work_order.transitioned"],
                           "网格服务")  # fmt: skip
    with hub.store.begin() as tx:
        events = [
            emit(tx, "record.changed:person", kind="person", record_id=hub.people["in_grid"])
            for _ in range(3)
        ] + [
            emit(tx, "work_order.transitioned", kind="work_order", record_id=hub.work_order,
                 data={"from": "签收", "to": "处置中", "step": "处置", "version": n})
            for n in (2, 3)
        ]  # fmt: skip
    log = tmp_path / "worker.log"
    with _worker(hub, log) as first:
        _until(lambda: rx.in_flight >= 1, "the first delivery was held open", first, log)
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait() == -signal.SIGKILL
    held = rx.arrivals[0].headers["webhook-id"]
    assert held == events[0]
    assert hub.statuses(sub)[0] == ("pending", 1)  # sent, never recorded as delivered
    sent = [e.event.detail for e in hub.audit("events.sent")]
    assert {"event": held, "attempt": 1}.items() <= next(
        d for d in sent if d["event"] == held
    ).items()

    with _worker(hub, log) as second:
        _until(
            lambda: all(status == "delivered" for status, _ in hub.statuses(sub)),
            "every delivery was delivered",
            second,
            log,
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, log.read_text()
    rx.release.set()

    assert set(rx.ids()) == set(events)
    assert rx.ids().count(held) == 2  # at least once: the one in flight again, same id
    assert [status for status, _ in hub.statuses(sub)] == ["delivered"] * len(events)
    attempts = [e.event.detail["attempt"] for e in hub.audit("events.sent")
                if e.event.detail["event"] == held]  # fmt: skip
    assert attempts == [1, 2]
