"""The application layer: every use case once, for the command line, the web and the jobs.

Each use case is a function named in the collectors' words (``add_promise``, ``record_payment``,
``opt_out``, ``run_cycle``, ...) that takes a unit of work (:mod:`arrears.services.uow`), an
:class:`arrears.domain.actor.Actor` and its request; checks the actor's role; runs in ONE
transaction; writes its activity record (naming the actor) in that transaction; returns a typed
result; and raises only :mod:`arrears.domain.errors`. Read models (the account, the explain
view, the worklist, the reports) live here too. Front ends parse, call one service and present;
they hold no SQL.
"""
