"""Delivering the outbox: templates, channel adapters and the dispatcher (docs/channels.md)."""
