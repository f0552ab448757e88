"""The guard's input and output frames (the contract between the cycle, the channels and the
guard). Times: ``*_at`` columns are UTC (``pl.Datetime("us", "UTC")``); ``*_local`` columns are
naive wall-clock times in the debtor's own time zone (``pl.Datetime("us")``).
"""

from __future__ import annotations

import polars as pl

S = pl.String()
I64 = pl.Int64()
I32 = pl.Int32()
B = pl.Boolean()
UTC_TIME = pl.Datetime("us", "UTC")
LOCAL_TIME = pl.Datetime("us")

#: Channels a contact can use.
CHANNELS = ("email", "sms", "whatsapp", "call", "letter")

#: What the caller wants to do. ``attempt_id``: the caller's id for the row (unique).
#: ``planned_local``: the earliest wall-clock time, in the debtor's time zone, at which the
#: caller would make the contact (the cycle: the run's day at the policy's send time; the
#: channels and a collector starting a call: now, converted to the debtor's zone by the guard's
#: helper :func:`arrears.contact.guard.local_now`). ``priority``: among several attempts for the
#: same debtor, lower goes first (a daily cap lets the first through). ``fallback``: channels to
#: try, in order, if ``channel`` is blocked. ``legal_threat``: the message threatens legal action
#: (refused on time-barred debts). ``days_past_due``: of the debt the contact is about.
#: ``validation_notice``: this contact is the debt validation notice itself.
ATTEMPT_SCHEMA: dict[str, pl.DataType] = {
    "attempt_id": I64,
    "debtor_id": I64,
    "channel": S,
    "planned_local": LOCAL_TIME,
    "priority": I32,
    "fallback": pl.List(S),
    "legal_threat": B,
    "days_past_due": I32,
    "validation_notice": B,
}

#: The debtors the attempts are about: the snapshot's debtor frame (``arrears.store.cycle.snapshot.
#: DEBTOR_SCHEMA``); the guard uses debtor_id, country, region, timezone, kind, do_not_contact,
#: bankrupt, deceased, legal_representative and tags ('breathing_space', 'cease_communication',
#: 'forbearance' are tags with a meaning to the packs).

#: Consent of each debtor per channel, over its contact points as of the day: ``granted`` (a
#: usable contact point with consent granted), ``unknown`` (usable, consent not recorded),
#: ``denied`` (every usable point denied or opted out), ``none`` (no usable contact point for
#: the channel: no email address, no phone, no postal address, or all marked bad). A debtor
#: missing from the frame has ``none`` for every channel.
CONSENT_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": I64,
    "channel": S,
    "status": S,
}

#: What happened before, from the activity log and the outbox, in the 30 days up to the attempts
#: (at least): ``kind`` is ``attempt`` (a contact attempt on ``channel``, made by the cycle or by
#: hand, answered or not), ``conversation`` (a telephone conversation with the debtor about the
#: debt) or ``validation_notice`` (the validation notice was sent).
HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": I64,
    "channel": S,
    "at": UTC_TIME,
    "kind": S,
}

#: The guard's answer, one row per attempt. ``decision``: ``allow`` (send at ``send_at``),
#: ``defer`` (outside the allowed hours or days: send at ``send_at``, the start of the next
#: allowed window) or ``block`` (not taken: ``send_at`` is null). ``channel``: the channel used
#: (a fallback channel when the planned one was blocked; then ``fallback_from`` is the planned
#: one). ``pack``: the rule pack that applied. ``rule``: the id of the rule that deferred or
#: blocked (``<pack>.<rule>``, e.g. ``us-reg-f.call-cap``); null for a plain allow. ``reason``:
#: one sentence for people (the explain and compliance reports).
DECISION_SCHEMA: dict[str, pl.DataType] = {
    "attempt_id": I64,
    "debtor_id": I64,
    "channel": S,
    "fallback_from": S,
    "pack": S,
    "decision": S,
    "send_at": UTC_TIME,
    "send_local": LOCAL_TIME,
    "rule": S,
    "reason": S,
}
