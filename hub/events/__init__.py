"""Changes told to partners: a transactional outbox, drained to subscriptions as signed
webhooks, each payload read through the subscriber's policy at delivery.

The story, module by module: ``emit`` (``outbox``) writes an event in the transaction of
its change and fans it out to the subscriptions naming its type (``deliveries`` rows);
``subscriptions`` registers a partner's webhook within its policy (``urls`` says which
addresses the hub will call); the worker in ``delivery`` claims due deliveries, has
``render`` read each event's record through the subscriber's policy as it is then, logs
the disclosure, signs (Standard Webhooks) and sends it, retrying with backoff until a
dead letter; ``admin`` lists and replays them for the operator (``hub webhooks``).
"""

from hub.events.outbox import emit, record_changed
from hub.events.types import known_types

__all__ = ["emit", "known_types", "record_changed"]
