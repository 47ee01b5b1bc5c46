# cython: language_level=3, boundscheck=False, wraparound=False
"""The C half of the MT940 reader's hottest steps (see `swift/compiled.py`).

Each function gives exactly what its Python twin gives, character for character:

- `head61(row)`: what `mt940._LINE61.match(row)` finds (the fixed head of a `:61:` row);
- `structured86(flat, new_details)`: `field86._structured(flat)` for a structured `:86:`
  (GVC, then `?NN` subfields), None for any other dialect.

A regex `\\d` in a str pattern is a Unicode decimal digit (sre's `Py_UNICODE_ISDECIMAL`):
so is `decimal` here. The tests run both halves over every sample and generated text.
"""

cdef extern from "Python.h":
    bint Py_UNICODE_ISDECIMAL(Py_UCS4 ch)

_REMITTANCE_CODES = (*range(20, 30), *range(60, 64))  # remittance ?NN, in reading order
cdef frozenset _SEPA_KEYS = frozenset(("EREF", "KREF", "MREF", "CRED", "SVWZ", "ABWA",
                                       "ABWE", "IBAN"))


cdef inline bint decimal(Py_UCS4 c):
    return Py_UNICODE_ISDECIMAL(c)


cdef inline bint upper(Py_UCS4 c):
    return u'A' <= c <= u'Z'


def head61(str row):
    """(value date, entry date or None, mark, amount, type code, end) as `_LINE61.match`
    finds them at the start of `row`, or None where it finds no match.

    The pattern never needs to go back: the optional entry date is four digits before a
    mark (never a digit), the funds code a letter before the amount (a digit), and the
    amount the longest run of digits and commas before the type code (a letter).
    """
    cdef Py_ssize_t n = len(row), i, start
    cdef Py_UCS4 c
    if n < 12:  # 6 + mark + 1 amount digit + 4
        return None
    for i in range(6):
        if not decimal(row[i]):
            return None
    i = 6
    entry = None
    if n >= 10 and decimal(row[6]) and decimal(row[7]) and decimal(row[8]) and decimal(row[9]):
        entry = row[6:10]
        i = 10
    start = i
    if i >= n:
        return None
    c = row[i]
    if (c == u'R' or c == u'E') and i + 1 < n and (row[i + 1] == u'C' or row[i + 1] == u'D'):
        i += 2
    elif c == u'C' or c == u'D':
        i += 1
    else:
        return None
    mark = row[start:i]
    if i < n and upper(row[i]):  # the funds code
        i += 1
    start = i
    if i >= n or not decimal(row[i]):
        return None
    i += 1
    while i < n and (decimal(row[i]) or row[i] == u','):
        i += 1
    amount = row[start:i]
    if i + 4 > n or not upper(row[i]):
        return None
    for start in range(i + 1, i + 4):
        c = row[start]
        if not (upper(c) or u'0' <= c <= u'9' or c == u' '):
            return None
    return row[:6], entry, mark, amount, row[i:i + 4], i + 4


cdef Py_ssize_t _subfield_at(str flat, Py_ssize_t n) noexcept:
    """Where the first `?NN` after the GVC starts, -1 if none (`field86._SUBFIELD`)."""
    cdef Py_ssize_t i
    for i in range(3, n - 2):
        if flat[i] == u'?' and decimal(flat[i + 1]) and decimal(flat[i + 2]):
            return i
    return -1


def structured86(str flat, new_details):
    """`field86._structured(flat)` when `flat` is a structured `:86:` (three digits, `?`,
    a `?NN` somewhere), built by `new_details`; None otherwise."""
    cdef Py_ssize_t n = len(flat), p, q, code
    cdef list remit = [None] * 14, names32 = [], names33 = [], accounts = []
    cdef bint twice = False
    if n < 6 or not (decimal(flat[0]) and decimal(flat[1]) and decimal(flat[2])) \
            or flat[3] != u'?' or _subfield_at(flat, n) < 0:
        return None
    p = 3
    while p + 1 < n:  # `(\d{2})([^?]*)` findall from the GVC's `?`
        if not (decimal(flat[p]) and decimal(flat[p + 1])):
            p += 1
            continue
        q = p + 2
        while q < n and flat[q] != u'?':
            q += 1
        code = _ascii_code(flat[p], flat[p + 1])
        value = flat[p + 2:q]
        if 20 <= code <= 29 or 60 <= code <= 63:
            slot = code - 20 if code <= 29 else code - 50
            if remit[slot] is None:
                remit[slot] = value
        elif code == 32:
            names32.append(value)
        elif code == 33:
            names33.append(value)
        elif code == 31:
            accounts.append(value)
        p = q
    remittance = "".join([v for v in remit if v is not None])
    sepa = _sepa_parts(remittance) if "+" in remittance else None
    name = account = None
    if names32 or names33:  # ?32 and ?33 continue each other, in that order
        name = ("".join(names32) + "".join(names33)).strip() or None
    if accounts:
        account = "".join(accounts).strip() or None
    if sepa is None:
        text = remittance.strip()
        return new_details(text or None, name, account, None, flat[:3])
    text = sepa.get("SVWZ", remittance).strip()
    return new_details(text or None, name, account or sepa.get("IBAN"),
                       _ref(sepa.get("EREF")), flat[:3])


cdef inline Py_ssize_t _ascii_code(Py_UCS4 a, Py_UCS4 b):
    """The number of two ASCII digits; -1 for other decimal digits (never a known code)."""
    if u'0' <= a <= u'9' and u'0' <= b <= u'9':
        return (<Py_ssize_t>a - 48) * 10 + (<Py_ssize_t>b - 48)  # 48: '0'
    return -1


cdef dict _sepa_parts(str text):
    """`field86._sepa_parts`: SEPA keywords and their stripped values; a later key wins."""
    cdef list pieces = text.split("+"), value = []
    cdef dict parts = {}
    cdef Py_ssize_t i, last = len(pieces) - 1
    key = None
    for i in range(last):
        piece = <str>pieces[i]
        found = piece[len(piece) - 4:] if len(piece) > 4 else piece  # no negative index
        if found not in _SEPA_KEYS:
            found = "BIC" if piece.endswith("BIC") else None
        if found is None:
            value.append(piece)
            continue
        if key is not None:
            value.append(piece[:len(piece) - len(found)])
            parts[key] = "+".join(value).strip()
        key, value = found, []
    if key is not None:
        value.append(pieces[last])
        parts[key] = "+".join(value).strip()
    return parts


cdef _ref(ref):
    return None if not ref or ref.upper() in ("NOTPROVIDED", "NONREF") else ref
