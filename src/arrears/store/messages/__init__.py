"""Messages: the outbox as a work queue, delivery reports and replies, the compliance read."""
