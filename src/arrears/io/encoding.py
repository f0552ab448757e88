"""Which text encoding a CSV file is in, decided on its first chunk.

``auto`` accepts UTF-8 (with or without a byte-order mark) and falls back to Latin-1, or to its
Windows superset cp1252 when the chunk uses the bytes 0x80-0x9F that cp1252 gives printable
meanings to (``€``, curly quotes). A chunk that is none of these (UTF-16, binary data, control
characters) cannot be read and is reported. Only the first chunk is examined; an undecodable byte
further on is reported when the reader reaches it.
"""

from __future__ import annotations

import codecs
import re

from arrears.domain.problems import Problem, ProblemsFound

_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_C1 = re.compile(rb"[\x80-\x9f]")
_NAMES = {"utf-8": "utf8", "utf8": "utf8", "latin-1": "latin1", "latin1": "latin1"}


def detect_encoding(head: bytes, setting: str, source: str) -> str:
    """The codec name for ``head`` under the ``import.encoding`` setting."""
    if head.startswith(codecs.BOM_UTF8):  # a byte-order mark says UTF-8, whatever the setting
        return "utf8"
    if setting != "auto":
        codec = _NAMES.get(setting.lower(), setting)
        try:
            decode_head(head, codec)
        except UnicodeDecodeError as exc:
            raise _unreadable(
                source,
                f"is not {setting} text (byte {exc.start + 1} of the file): set import.encoding "
                "to the file's encoding ('auto' detects UTF-8 and Latin-1)",
            ) from exc
        return codec
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _unreadable(source, "is UTF-16 text: save it as UTF-8 (or CSV UTF-8 in Excel)")
    if _is_utf8(head):
        return "utf8"
    if _CONTROL.search(head):
        raise _unreadable(
            source,
            "is neither UTF-8 nor Latin-1 text (it contains control bytes): "
            "is it really a CSV file? Save it as CSV UTF-8",
        )
    if _C1.search(head):
        try:
            head.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise _unreadable(source, "is neither UTF-8 nor Latin-1/cp1252 text") from exc
        return "cp1252"
    return "latin1"


def decode_head(head: bytes, codec: str) -> str:
    """Decode the first chunk, tolerating a multi-byte character cut at its end."""
    text = head.decode(codec, errors="strict") if codec != "utf8" else _utf8(head)
    return text.removeprefix("\ufeff")


def _utf8(head: bytes) -> str:
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return head[: exc.start].decode("utf-8")
        raise


def _is_utf8(head: bytes) -> bool:
    try:
        _utf8(head)
    except UnicodeDecodeError:
        return False
    return not _CONTROL.search(head)


def _unreadable(source: str, message: str) -> ProblemsFound:
    return ProblemsFound([Problem(source, None, None, message)])
