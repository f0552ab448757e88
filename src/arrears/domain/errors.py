"""The one error hierarchy every use case raises, and every front end presents.

A use case (``arrears.services``) raises one of these and nothing else for what its caller did
wrong or what stopped it; the command line maps each to a message and an exit status
(``arrears.cli.app.main``), the web to an HTTP status and the one JSON error shape
(``arrears.web.errors``). A programming error stays an ordinary exception and is a bug.

=================  ====================================================  ====  ====
error              means                                                 CLI   HTTP
=================  ====================================================  ====  ====
``InvalidInput``   the request has problems; every one is located        1     422
``NotFound``       no such debtor, invoice, promise, portfolio, message  1     404
``Conflict``       the state changed under the request, or forbids it    1     409
``NotAllowed``     the actor's role may not do this                      1     403
``Unavailable``    the store or a channel cannot be reached or used      1     503
=================  ====================================================  ====  ====
"""

from __future__ import annotations


class ArrearsError(Exception):
    """Base of every error a use case raises for its caller to present."""

    #: The HTTP status a web front end answers with.
    http_status = 500


class InvalidInput(ArrearsError, ValueError):
    """What was asked is not valid; subclasses carry every located problem at once."""

    http_status = 422


class NotFound(ArrearsError, LookupError):
    """The thing named does not exist (in the actor's portfolio)."""

    http_status = 404


class Conflict(ArrearsError):
    """The request cannot apply to the current state (changed concurrently, or a state that
    forbids it); trying again after reading the new state may succeed."""

    http_status = 409


class NotAllowed(ArrearsError, PermissionError):
    """The actor's role does not allow this."""

    http_status = 403


class Unavailable(ArrearsError):
    """A component the request needs (database, channel, model file) cannot be used now."""

    http_status = 503
