"""Open and click tracking of emails (:mod:`arrears.channels.tracking` writes the links).

``GET /t/open?k=<outbox key>&s=<signature>`` answers a transparent 1x1 GIF and records
``message.opened`` once per message; ``GET /t/click?k=<key>&u=<target>&s=<signature>`` records
``message.clicked`` once per message and link, then redirects (302) to the target. The signature
covers the key and the target, so only links that were in a message we sent are followed (no
open redirect); a wrong one is 403 and goes nowhere. A signed link whose message is gone from
the outbox still works and records nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import RedirectResponse

from arrears.channels.tracking import verify_click, verify_open
from arrears.domain.actor import system
from arrears.services.outreach import messages
from arrears.web.app import Site, site
from arrears.web.errors import Problem, WebError, answers

router = APIRouter()
SiteDep = Annotated[Site, Depends(site)]

#: A transparent 1x1 GIF.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
_NO_CACHE = {"Cache-Control": "no-store, private", "X-Robots-Tag": "noindex"}
#: Who records an open or a click: a pixel or a link fetched (by the debtor's mail client, or an
#: image proxy without the debtor opening anything), not the debtor's declared act.
TRACKING = system("tracking")


@router.get(
    "/t/open",
    responses={
        200: {"content": {"image/gif": {}}, "description": "The pixel."},
        **answers(403, 422),
    },
)
def opened(
    s: SiteDep,
    k: Annotated[str, Query(min_length=1, max_length=300)],
    sig: Annotated[str, Query(alias="s", min_length=1, max_length=128)],
) -> Response:
    if not verify_open(s.setting("channels.secret"), k, sig):
        raise WebError(403, Problem("query s", "the signature does not match: not recorded"))
    messages.record_tracking(
        s.uow(), TRACKING, portfolio=s.portfolio, key=k, event="opened", at=s.clock()
    )
    return Response(PIXEL, media_type="image/gif", headers=_NO_CACHE)


@router.get("/t/click", responses={302: {"description": "To the target."}, **answers(403, 422)})
def clicked(
    s: SiteDep,
    k: Annotated[str, Query(min_length=1, max_length=300)],
    u: Annotated[str, Query(min_length=1, max_length=2000)],
    sig: Annotated[str, Query(alias="s", min_length=1, max_length=128)],
) -> Response:
    if not verify_click(s.setting("channels.secret"), k, u, sig):
        raise WebError(
            403, Problem("query s", "the signature does not match this link: not followed")
        )
    messages.record_tracking(
        s.uow(), TRACKING, portfolio=s.portfolio, key=k, event="clicked", at=s.clock(), url=u
    )
    return RedirectResponse(u, status_code=302, headers=_NO_CACHE)
