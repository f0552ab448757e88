"""The application layer: every use case once, for the command line, the web and the jobs.

Each use case is a function named in the collectors' words (``add_promise``, ``record_payment``,
``opt_out``, ``run_cycle``, ...) that takes a unit of work (:mod:`arrears.services.uow`), an
:class:`arrears.domain.actor.Actor` and its request; checks the actor's role; runs in ONE
transaction; writes its activity record (naming the actor) in that transaction; returns a typed
result; and raises only :mod:`arrears.domain.errors`. Read models (the account, the explain
view, the worklist, the reports) live here too. Front ends parse, call one service and present;
they hold no SQL.

One subpackage per part of the work; the unit of work, the ports, the daily cycle and the
workspace's users and tokens stay at the top:

- :mod:`.books`: the receivables ledger (payments, credit notes, reversals), imports, exports,
  online payments;
- :mod:`.casework`: the collectors' work (promises, holds, contacts, approvals, tasks and queues,
  the worklist, the account page, the explain view);
- :mod:`.arrangements`: payment plans, settlements, disputes, write-off proposals, agencies, the
  debtor's own agreements;
- :mod:`.outreach`: the outbox's dispatch, replies and opt-outs, contact-rule audits, webhooks, the
  debtor's self-service page;
- :mod:`.insight`: KPIs, the dashboard, reports, the cash forecast, scoring;
- :mod:`.cycle` (the daily run), :mod:`.uow`, :mod:`.ports` and :mod:`.memory`, :mod:`.users`,
  :mod:`.tokens`, :mod:`.workspace`.
"""
