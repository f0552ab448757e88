"""The HTTP side of the channels (``arrears serve``, docs/web.md): providers' delivery-status
callbacks, inbound SMS/WhatsApp replies (STOP, BAJA...), the signed opt-out page (and RFC 8058
one-click), and open/click tracking of emails. Not part of the core: FastAPI, served by uvicorn.
"""

from arrears.web.app import create_app

__all__ = ["create_app"]
