"""Reaching the debtor: dispatch of the outbox, replies, opt-outs and tracking, contact-rule
audits, webhooks, the debtor's self-service page."""
