"""Channels (in-app, e-mail, webhook) and the outbox that sends what the
reminder scan recorded, after its transaction committed, with retries."""
