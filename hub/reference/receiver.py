"""A partner system's webhook endpoint, as the demo runs one for each side: it checks each
delivery's Standard Webhooks signature with the ``standardwebhooks`` package (as a partner
would, not with the hub's code) and keeps what arrived, once per ``webhook-id``."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.types import Receive, Scope, Send


@dataclass(frozen=True)
class Arrival:
    webhook_id: str
    type: str
    data: dict[str, Any]


class WebhookReceiver:
    """An ASGI app; give it the subscription's secret (``secret``) before events come."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.secret: str | None = None
        self.arrivals: list[Arrival] = []
        self.refused = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status = self._take(body, headers)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def _take(self, body: bytes, headers: dict[str, str]) -> int:
        if self.secret is None:
            return 503
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            with self._lock:
                self.refused += 1
            return 400
        with self._lock:
            webhook_id = headers["webhook-id"]
            if all(a.webhook_id != webhook_id for a in self.arrivals):
                self.arrivals.append(Arrival(webhook_id, payload["type"], payload["data"]))
        return 204

    def take_new(self, seen: int) -> list[Arrival]:
        with self._lock:
            return self.arrivals[seen:]
