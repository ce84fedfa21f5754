"""The rules for a subscriber's first name, for every way one comes in: the sign-up
form (newsletter/web/forms.py) and CSV imports (imports.py).

A first name is written into emails sent to whatever address was given, so it must
not be able to carry a link, markup or extra lines into a stranger's inbox, nor
characters that make it display in another order than it is written.
"""

import re

MAX_NAME_LENGTH = 100

LINE_BREAK = re.compile(r"[\n\r\x0b\x0c\x85\u2028\u2029]")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Bidirectional embeddings, overrides, isolates and marks: invisible, they reorder
# the text around them ("moc.elpmaxe" shown as "example.com").
BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
MARKUP = re.compile(r"[<>]")
# Schemes, "www.", anything like a domain ("bit.ly").
WEB_ADDRESS = re.compile(r"://|www\.|[a-z0-9]\.[a-z]{2,}", re.I)
ADDRESS_SIGNS = re.compile(r"[@/\\]")


def name_problem(name: str) -> str:
    """Why `name` cannot be a subscriber's first name, or "" if it can."""
    if len(name) > MAX_NAME_LENGTH:
        return f"A first name can be at most {MAX_NAME_LENGTH} characters long."
    if LINE_BREAK.search(name):
        return "A first name cannot contain line breaks."
    if CONTROL.search(name):
        return "A first name cannot contain control characters."
    if found := BIDI_CONTROL.search(name):
        return (
            "A first name cannot contain invisible characters that change the "
            f"direction of text (found U+{ord(found.group()):04X})."
        )
    if MARKUP.search(name):
        return "A first name cannot contain markup (< or >)."
    if WEB_ADDRESS.search(name):
        return "A first name cannot contain a web address."
    if ADDRESS_SIGNS.search(name):
        return "A first name cannot contain @, / or \\."
    return ""
