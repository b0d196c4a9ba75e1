"""Text from a model (tensor, operator and file names) made safe for generated C.

Names in a .tflite are arbitrary strings: pasted as they are, ``*/`` ends a comment and
a newline or a quote breaks the line. Every generator puts such text into C through
these helpers.
"""

from __future__ import annotations

import re

_COMMENT_DELIMITER = re.compile(r"/(?=\*)|\*(?=/)")
_NOT_IDENTIFIER = re.compile(r"[^0-9A-Za-z_]")
_IDENTIFIER_BYTES = bytes(
    b if chr(b).isascii() and (chr(b).isalnum() or chr(b) == "_") else ord("_") for b in range(256)
)


def c_comment_text(text: object, limit: int = 120) -> str:
    """``text`` for the inside of a ``/* ... */`` comment: printable ASCII on one line (other
    characters and backslashes become ``?``), no comment delimiter, at most ``limit`` chars."""
    printable = "".join(ch if " " <= ch <= "~" and ch != "\\" else "?" for ch in str(text))
    if len(printable) > limit:
        printable = printable[: limit - 3] + "..."
    # "*/" and "/*" lose their first character's meaning: a space splits them.
    return _COMMENT_DELIMITER.sub(lambda m: m.group(0) + " ", printable)


def c_identifier(text: object) -> str:
    """``text`` as a C identifier: other characters become ``_``, never a leading digit."""
    name = _NOT_IDENTIFIER.sub("_", str(text))
    return name if name and not name[0].isdigit() else f"_{name}"


def c_identifier_bytes(raw: bytes | bytearray) -> bytes:
    """``raw`` (UTF-8) as a C identifier of the same length: every other byte becomes ``_``."""
    name = bytes(raw).translate(_IDENTIFIER_BYTES)
    return b"_" + name[1:] if name[:1].isdigit() else name
