"""The contracts between services and with outside clients, in one place.

`events`: the event types, their data schemas and the topic map (what producers emit and consumers
parse; the AsyncAPI document is generated from them). `registry_internal`: the registry's internal
API (the server's request and response schemas, and what `shared.registry_client` sends and reads).
The generic machinery (`shared.events`: envelope, outbox, inbox, Kafka helpers) knows none of this:
it is given the topic map.
"""
