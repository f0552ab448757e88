"""Outbound webhooks (docs/web.md, "Outbound webhooks"): the portfolio's events sent to its
clients' URLs, signed, retried with backoff, every attempt logged.

Data flow: the services write the append-only activity log as they always do; nothing in them
knows about webhooks. ``arrears webhooks deliver`` (:mod:`arrears.services.outreach.webhooks`)
reads the
records committed after each endpoint's cursor, turns the kinds it subscribes to into events
(:mod:`.events`: ``payment.posted`` is ``payment.recorded``...), stores one delivery per event
and endpoint with its body (idempotent on the pair), moves the cursor, all in one transaction;
then it sends each due delivery (:mod:`.sending`), signed (:mod:`.signing`), and records the
attempt: 2xx delivered, anything else retried later (:func:`.sending.backoff`) until
:data:`.sending.MAX_ATTEMPTS`, then failed."""
