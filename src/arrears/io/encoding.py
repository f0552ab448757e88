"""Which text encoding a CSV file is in, decided on its first chunk, and where it is broken.

``auto`` accepts UTF-8 (with or without a byte-order mark) and falls back to Latin-1, or to its
Windows superset cp1252 when the chunk uses the bytes 0x80-0x9F that cp1252 gives printable
meanings to (``€``, curly quotes). A file whose first chunk is not UTF-8 is decided on the whole
file (a few C passes, no Python step per byte): one that is UTF-8 except for a few bytes (at
least as many UTF-8 characters as other non-ASCII bytes: a UTF-8 file with a row pasted from a
Latin-1 one) is UTF-8 with broken lines, not Latin-1: read as Latin-1, every one of its accents
would be stored garbled (``BogotÃ¡``). A chunk that is no text at all (UTF-16, control bytes
such as NUL) is reported.

Whatever the encoding and wherever the bytes that do not decode are (in the first chunk or far
past it), :func:`undecodable_lines` names each line that holds them, so that the same file gets
the same answer.
"""

from __future__ import annotations

import codecs
import re
import threading
from pathlib import Path

from arrears.domain.problems import Problem, ProblemsFound

_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_C1 = re.compile(rb"[\x80-\x9f]")
_ASCII_BYTES = bytes(range(128))
_NOT_C1_BYTES = bytes(b for b in range(256) if not 0x80 <= b <= 0x9F)
#: Every byte but the control bytes of ``_CONTROL``: what ``bytes.translate`` deletes.
_TEXT_BYTES = bytes(b for b in range(256) if not _CONTROL.match(bytes([b])))
#: A UTF-8 character of two to four bytes (a Latin-1 text rarely has one by chance).
_UTF8_CHAR = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_NAMES = {"utf-8": "utf8", "utf8": "utf8", "latin-1": "latin1", "latin1": "latin1"}
_SHOWN = {"utf8": "UTF-8", "latin1": "Latin-1", "cp1252": "Windows-1252 (cp1252)"}
#: At most this many lines are named; the rest are counted.
MAX_LINES = 100
_CHUNK = 1 << 24


def detect_encoding(head: bytes, setting: str, source: str, path: Path | None = None) -> str:
    """The codec name for ``head`` under the ``import.encoding`` setting. ``path``: the file,
    when it is longer than ``head``; ``auto`` then decides a head that is not UTF-8 on the whole
    file, so that where its UTF-8 and Latin-1 bytes are does not change the answer."""
    if head.startswith(codecs.BOM_UTF8):  # a byte-order mark says UTF-8, whatever the setting
        return "utf8"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _unreadable(source, "is UTF-16 text: save it as UTF-8 (or CSV UTF-8 in Excel)")
    control = _CONTROL.search(head)
    if control:
        line = head.count(_newline(head), 0, control.start()) + 1
        raise ProblemsFound([_control(source, line, head[control.start()])])
    if setting != "auto":
        return _NAMES.get(setting.lower(), setting)
    if _is_utf8(head):
        return "utf8"
    if path is not None:
        characters, other, c1 = _whole_file_counts(path)
        if characters and characters >= other:
            return "utf8"
        return "cp1252" if c1 else "latin1"
    if _mostly_utf8(head):
        return "utf8"
    if _C1.search(head):
        return "cp1252"
    return "latin1"


def _whole_file_counts(path: Path) -> tuple[int, int, int]:
    """UTF-8 characters of two to four bytes, other non-ASCII bytes, and bytes 0x80-0x9F of the
    whole file: a few C passes per chunk (decode, translate, count), no Python step per byte."""
    characters = other = c1 = 0
    carry = b""
    with path.open("rb") as handle:
        while True:
            data = handle.read(_CHUNK)
            chunk = carry + data
            end = _complete(chunk) if data else len(chunk)
            part = chunk[:end]
            non_ascii = len(part.translate(None, _ASCII_BYTES))
            decoded = part.decode("utf-8", errors="replace")
            broken = decoded.count("\ufffd")
            ascii_count = len(part) - non_ascii
            multi = len(decoded) - ascii_count - broken  # characters of 2-4 bytes
            characters += multi
            other += broken
            c1 += len(part.translate(None, _NOT_C1_BYTES))
            carry = chunk[end:]
            if not data:
                return characters, other, c1


def control_byte_after(path: Path, head: bytes, source: str) -> Problem | None:
    """The first control byte (NUL...) of ``path`` after its first chunk ``head``, as
    :func:`detect_encoding` reports one in ``head``: text files have none, and PostgreSQL
    refuses a NUL in text. One C pass per chunk (``bytes.translate``, about 1 GB/s)."""
    newline = _newline(head)
    lines = head.count(newline)
    with path.open("rb") as handle:
        handle.seek(len(head))
        while chunk := handle.read(_CHUNK):
            if chunk.translate(None, _TEXT_BYTES):
                found = _CONTROL.search(chunk)
                assert found is not None
                line = lines + chunk.count(newline, 0, found.start()) + 1
                return _control(source, line, chunk[found.start()])
            lines += chunk.count(newline)
    return None


def _control(source: str, line: int, byte: int) -> Problem:
    return Problem(
        source,
        line,
        None,
        f"holds the control byte 0x{byte:02X}, which text does not have: "
        "is it really a CSV file? Save it as CSV UTF-8",
    )


def decode_head(head: bytes, codec: str) -> str:
    """Decode the first chunk, tolerating a multi-byte character cut at its end."""
    text = head.decode(codec, errors="strict") if codec != "utf8" else _utf8(head)
    return text.removeprefix("\ufeff")


def undecodable_lines(path: Path, codec: str, source: str) -> list[Problem]:
    """One problem per line of ``path`` that does not decode as ``codec`` (the first
    :data:`MAX_LINES`, then how many more), read in chunks of bounded size. Only the bytes that
    do not decode cost Python steps (a codec error handler notes them)."""
    problems: list[Problem] = []
    more = 0
    newline = b"\n"
    line = 1  # the line at ``counted`` (an offset in the chunk)
    line_start = 0  # offset in the file of that line
    offset = 0  # offset of the chunk in the file
    carry = b""
    last_line = 0
    with path.open("rb") as handle:
        while True:
            data = handle.read(_CHUNK)
            chunk = carry + data
            if offset == 0 and b"\n" not in chunk and b"\r" in chunk:
                newline = b"\r"  # old Mac line endings
            end = _complete(chunk) if data and codec == "utf8" else len(chunk)
            counted = 0
            for position in _bad_bytes(chunk[:end], codec):
                breaks = chunk.count(newline, counted, position)
                if breaks:
                    line += breaks
                    line_start = offset + chunk.rfind(newline, counted, position) + 1
                counted = position
                if line == last_line:
                    continue
                last_line = line
                if len(problems) >= MAX_LINES:
                    more += 1
                    continue
                column = offset + position - line_start + 1
                problems.append(
                    Problem(source, line, None, _message(codec, chunk[position], column))
                )
            breaks = chunk.count(newline, counted, end)
            if breaks:
                line += breaks
                line_start = offset + chunk.rfind(newline, counted, end) + 1
            offset += end
            carry = chunk[end:]
            if not data:
                break
    if more:
        shown = _SHOWN.get(codec, codec)
        problems.append(
            Problem(source, None, None, f"and {more} more lines that are not {shown} text")
        )
    return problems


_found = threading.local()


def _note(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    _found.positions.append(error.start)
    return "", error.end


codecs.register_error("arrears-note", _note)


def _bad_bytes(chunk: bytes, codec: str) -> list[int]:
    """The offset of every undecodable sequence of ``chunk``."""
    _found.positions = []
    try:
        chunk.decode(codec, errors="arrears-note")
        return list(_found.positions)
    finally:
        _found.positions = []


def _complete(chunk: bytes) -> int:
    """The length of ``chunk`` without a UTF-8 character cut at its end (at most 3 bytes)."""
    for back in range(1, 4):
        if len(chunk) >= back and chunk[-back] & 0xC0 == 0xC0:  # a lead byte
            return len(chunk) - back
        if len(chunk) >= back and chunk[-back] & 0xC0 != 0x80:  # ASCII
            break
    return len(chunk)


def _message(codec: str, byte: int, column: int) -> str:
    shown = _SHOWN.get(codec, codec)
    if codec == "utf8":
        meaning = ""
        if byte >= 0xA0:
            meaning = f", {chr(byte)!r} in Latin-1"
        elif byte >= 0x80:
            as_cp1252 = bytes([byte]).decode("cp1252", errors="ignore")
            meaning = f", {as_cp1252!r} in Windows-1252" if as_cp1252 else ""
        return (
            f"is not UTF-8 text (byte 0x{byte:02X}{meaning}, at byte {column} of the line): "
            "save the file as UTF-8, or set import.encoding = 'latin-1' if all of it is Latin-1"
        )
    return (
        f"is not {shown} text (byte 0x{byte:02X}, at byte {column} of the line): save the file "
        "as UTF-8, or set import.encoding to the file's encoding"
    )


def _newline(head: bytes) -> bytes:
    return b"\r" if b"\n" not in head and b"\r" in head else b"\n"


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
    return True


def _mostly_utf8(head: bytes) -> bool:
    """More UTF-8 characters than non-ASCII bytes outside them: UTF-8 with broken rows."""
    characters = _UTF8_CHAR.findall(head)
    if not characters:
        return False
    other = len(_NON_ASCII.findall(head)) - sum(len(c) for c in characters)
    return len(characters) >= other


def _unreadable(source: str, message: str) -> ProblemsFound:
    return ProblemsFound([Problem(source, None, None, message)])
