"""Changes told to partners: a transactional outbox, drained to subscriptions as signed
webhooks, each payload read through the subscriber's policy at delivery."""

from hub.events.outbox import emit

__all__ = ["emit"]
