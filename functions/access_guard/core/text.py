"""Free text that reaches notes, logs and the audit trail: one definition of "one line".

A reason, a name or an actor text is written into multi-line notes, JSON log lines and audit records. A
character that starts a new line there (LF, CR, U+0085 NEXT LINE, U+2028 LINE SEPARATOR, U+2029 PARAGRAPH
SEPARATOR) or hides text (format characters such as U+202E RIGHT-TO-LEFT OVERRIDE, U+200B ZERO WIDTH SPACE)
would let a caller forge a line of the note. So input is refused when it holds a character of the Unicode
categories Cc (control), Cf (format), Zl (line separator) or Zp (paragraph separator), and text that is only
shown (an event's actor, an AWS error) is made one line by escaping them.
"""

from __future__ import annotations

import unicodedata

# The Unicode general categories that never appear in a one-line text.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def unsafe(char: str) -> bool:
    return unicodedata.category(char) in UNSAFE_CATEGORIES


def is_one_line(text: str) -> bool:
    """No character of the unsafe categories (so it renders on one line, as it reads)."""
    return not any(unsafe(c) for c in text)


def first_unsafe(text: str) -> str | None:
    """The first unsafe character, named for an error message (e.g. "U+2028 LINE SEPARATOR")."""
    for char in text:
        if unsafe(char):
            return f"U+{ord(char):04X} {unicodedata.name(char, unicodedata.category(char))}"
    return None


def escape(text: str) -> str:
    """`text` with every unsafe character written as its escape (\\n, \\u2028): one line, nothing hidden."""
    if is_one_line(text):
        return text
    return "".join(c.encode("unicode_escape").decode("ascii") if unsafe(c) else c for c in text)


def one_line(text: str, limit: int = 500) -> str:
    """`text` escaped, its runs of whitespace made one space, cut to `limit` characters."""
    flat = " ".join(escape(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
