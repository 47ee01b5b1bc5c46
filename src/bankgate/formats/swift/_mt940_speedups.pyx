# cython: language_level=3, boundscheck=False, wraparound=False
"""The C half of the MT940 reader's hottest steps (see `swift/compiled.py`).

Each function gives exactly what its Python twin gives, character for character:

- `head61(row)`: what `mt940._LINE61.match(row)` finds (the fixed head of a `:61:` row);
- `structured86(flat, new_details)`: `field86._structured(flat)` for a structured `:86:`
  (GVC, then `?NN` subfields), None for any other dialect;
- `has_control(text)`: whether `mt940._CONTROL` finds a control character;
- `fields(text, cls)`: `mt940._fields`, its tag split and loop in one pass;
- `entries(reader, fields, cur, parts)`: `mt940._Reader.entries`; the reader is asked for
  what this does not do itself (dates and amounts not yet seen, composite keys, other
  `:86:` dialects, and any line that is not a statement line, which the reader refuses
  naming its line).

A regex `\\d` in a str pattern is a Unicode decimal digit (sre's `Py_UNICODE_ISDECIMAL`):
so is `decimal` here. The tests run both halves over every sample and generated text.
"""

from collections import Counter

from cpython.unicode cimport PyUnicode_DATA, PyUnicode_KIND, PyUnicode_READ

cdef extern from "Python.h":
    bint Py_UNICODE_ISDECIMAL(Py_UCS4 ch)
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch)

cdef inline bint decimal(Py_UCS4 c) noexcept:
    if c < 128:  # the usual case, without the Unicode table
        return 48 <= c <= 57
    return Py_UNICODE_ISDECIMAL(c)


cdef inline bint upper(Py_UCS4 c) noexcept:
    return u'A' <= c <= u'Z'


def head61(str row):
    """(value date, entry date or None, mark, amount, type code, end) as `_LINE61.match`
    finds them at the start of `row`, or None where it finds no match."""
    return _head61(row)


cdef tuple _head61(str row):
    """`head61`.

    The pattern never needs to go back: the optional entry date is four digits before a
    mark (never a digit), the funds code a letter before the amount (a digit), and the
    amount the longest run of digits and commas before the type code (a letter).
    """
    cdef Py_ssize_t n = len(row), i, start
    cdef Py_UCS4 c
    cdef int kind = PyUnicode_KIND(row)
    cdef void* data = PyUnicode_DATA(row)
    if n < 12:  # 6 + mark + 1 amount digit + 4
        return None
    for i in range(6):
        if not decimal(PyUnicode_READ(kind, data, i)):
            return None
    i = 6
    entry = None
    if n >= 10 and decimal(PyUnicode_READ(kind, data, 6)) \
            and decimal(PyUnicode_READ(kind, data, 7)) \
            and decimal(PyUnicode_READ(kind, data, 8)) \
            and decimal(PyUnicode_READ(kind, data, 9)):
        entry = row[6:10]
        i = 10
    start = i
    if i >= n:
        return None
    c = PyUnicode_READ(kind, data, i)
    if (c == u'R' or c == u'E') and i + 1 < n and (
            PyUnicode_READ(kind, data, i + 1) == u'C' or PyUnicode_READ(kind, data, i + 1) == u'D'):
        i += 2
    elif c == u'C' or c == u'D':
        i += 1
    else:
        return None
    mark = row[start:i]
    if i < n and upper(PyUnicode_READ(kind, data, i)):  # the funds code
        i += 1
    start = i
    if i >= n or not decimal(PyUnicode_READ(kind, data, i)):
        return None
    i += 1
    while i < n and (decimal(PyUnicode_READ(kind, data, i))
                     or PyUnicode_READ(kind, data, i) == u','):
        i += 1
    amount = row[start:i]
    if i + 4 > n or not upper(PyUnicode_READ(kind, data, i)):
        return None
    for start in range(i + 1, i + 4):
        c = PyUnicode_READ(kind, data, start)
        if not (upper(c) or u'0' <= c <= u'9' or c == u' '):
            return None
    return row[:6], entry, mark, amount, row[i:i + 4], i + 4


cdef Py_ssize_t _subfield_at(int kind, void* data, Py_ssize_t n) noexcept:
    """Where the first `?NN` after the GVC starts, -1 if none (`field86._SUBFIELD`)."""
    cdef Py_ssize_t i
    for i in range(3, n - 2):
        if PyUnicode_READ(kind, data, i) == u'?' and decimal(PyUnicode_READ(kind, data, i + 1)) \
                and decimal(PyUnicode_READ(kind, data, i + 2)):
            return i
    return -1


def structured86(str flat, new_details):
    """`field86._structured(flat)` when `flat` is a structured `:86:` (three digits, `?`,
    a `?NN` somewhere), built by `new_details`; None otherwise."""
    cdef tuple found = _structured(flat)
    return None if found is None else new_details(*found)


cdef tuple _structured(str flat):
    """`structured86`'s values (remittance, name, account, end-to-end id, code), or None."""
    cdef Py_ssize_t n = len(flat), p, q, code, slot, last = -1, count = 0, k
    cdef int mask = 0, kind = PyUnicode_KIND(flat)
    cdef void* data = PyUnicode_DATA(flat)
    cdef int slots[14]
    cdef bint in_order = True, has31 = False, has32 = False, has33 = False
    cdef list remit = []
    cdef str remittance, text, name32 = "", name33 = "", account31 = ""
    if n < 6 or not (decimal(PyUnicode_READ(kind, data, 0))
                     and decimal(PyUnicode_READ(kind, data, 1))
                     and decimal(PyUnicode_READ(kind, data, 2))) \
            or PyUnicode_READ(kind, data, 3) != u'?' or _subfield_at(kind, data, n) < 0:
        return None
    p = 3
    while p + 1 < n:  # `(\d{2})([^?]*)` findall from the GVC's `?`
        if not (decimal(PyUnicode_READ(kind, data, p))
                and decimal(PyUnicode_READ(kind, data, p + 1))):
            p += 1
            continue
        q = p + 2
        while q < n and PyUnicode_READ(kind, data, q) != u'?':
            q += 1
        code = _ascii_code(PyUnicode_READ(kind, data, p), PyUnicode_READ(kind, data, p + 1))
        if 20 <= code <= 29 or 60 <= code <= 63:  # remittance: each code's first value
            slot = code - 20 if code <= 29 else code - 50
            if not (mask >> slot) & 1:
                mask |= 1 << slot
                in_order = in_order and slot > last
                last = slot
                slots[count] = slot
                count += 1
                remit.append(flat[p + 2:q])
        elif code == 32:  # ?32 and ?33 continue each other, in that order; all values
            has32 = True
            name32 += flat[p + 2:q]
        elif code == 33:
            has33 = True
            name33 += flat[p + 2:q]
        elif code == 31:
            has31 = True
            account31 += flat[p + 2:q]
        p = q
    if in_order:
        remittance = "".join(remit)
    else:  # in code order, as the Python reading joins them
        ordered = [None] * 14
        for k in range(count):
            ordered[slots[k]] = remit[k]
        remittance = "".join([v for v in ordered if v is not None])
    name = ((name32 + name33).strip() or None) if has32 or has33 else None
    account = (account31.strip() or None) if has31 else None
    cdef list sepa = _sepa_parts(remittance)
    if sepa is None:
        text = remittance.strip()
        return (text or None, name, account, None, flat[:3])
    text = (<str>(sepa[0] if sepa[0] is not None else remittance)).strip()
    return (text or None, name, account or sepa[1], _ref(sepa[2]), flat[:3])


cdef inline Py_ssize_t _ascii_code(Py_UCS4 a, Py_UCS4 b) noexcept:
    """The number of two ASCII digits; -1 for other decimal digits (never a known code)."""
    if u'0' <= a <= u'9' and u'0' <= b <= u'9':
        return (<Py_ssize_t>a - 48) * 10 + (<Py_ssize_t>b - 48)  # 48: '0'
    return -1


cdef list _sepa_parts(str text):
    """[SVWZ, IBAN, EREF] of `field86._sepa_parts(text)` (None where absent), or None when
    the text has no key: each key ends at a `+` and its value runs to the next key; a later
    key wins."""
    cdef list found = None
    cdef Py_ssize_t n = len(text), j, size = 0, value_at = -1
    cdef int which = -1, next_which = -1, kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    for j in range(n + 1):
        if j < n:
            if PyUnicode_READ(kind, data, j) != u'+':
                continue
            next_which = _sepa_key(kind, data, j, &size)
            if next_which < 0:
                continue
            if found is None:
                found = [None, None, None]
        if which >= 0 and which < 3:  # the value of the key before, up to here
            found[which] = text[value_at:(j - size if j < n else n)].strip()
        if j < n:
            which, value_at = next_which, j + 1
    return found


cdef int _sepa_key(int kind, void* data, Py_ssize_t j, Py_ssize_t* size) noexcept:
    """Which SEPA key ends right before the `+` at `j`: 0 SVWZ, 1 IBAN, 2 EREF, 3 another
    (KREF, MREF, CRED, ABWA, ABWE, BIC), -1 none; its length goes to `size`.

    A four-letter key is tried before BIC, as `field86._sepa_parts` (and the regex before
    it) do.
    """
    cdef Py_UCS4 a, b, c, d
    if j >= 4:
        a, b = PyUnicode_READ(kind, data, j - 4), PyUnicode_READ(kind, data, j - 3)
        c, d = PyUnicode_READ(kind, data, j - 2), PyUnicode_READ(kind, data, j - 1)
        size[0] = 4
        if b == u'R' and c == u'E' and d == u'F' and (a == u'E' or a == u'K' or a == u'M'):
            return 2 if a == u'E' else 3
        if a == u'S' and b == u'V' and c == u'W' and d == u'Z':
            return 0
        if a == u'I' and b == u'B' and c == u'A' and d == u'N':
            return 1
        if (a == u'C' and b == u'R' and c == u'E' and d == u'D') or \
                (a == u'A' and b == u'B' and c == u'W' and (d == u'A' or d == u'E')):
            return 3
    if j >= 3 and PyUnicode_READ(kind, data, j - 3) == u'B' \
            and PyUnicode_READ(kind, data, j - 2) == u'I' \
            and PyUnicode_READ(kind, data, j - 1) == u'C':
        size[0] = 3
        return 3
    return -1


cdef _ref(ref):
    return None if not ref or ref.upper() in ("NOTPROVIDED", "NONREF") else ref


def has_control(str text):
    """Whether `text` holds a control character `mt940._CONTROL` removes."""
    cdef Py_UCS4 c
    for c in text:
        if c < 0x20 and c != 0x09 and c != 0x0a and c != 0x0d or c == 0x7f:
            return True
    return False


def fields(str text, cls):
    """`mt940._fields(text)`: a `cls` (tag, value, line) per `:tag:` at a line start.

    What the split by `mt940._TAG_LINE` and its loop give, in one pass over the text: a tag
    is `:`, two digits, an optional letter and `:` at the start of the text or after a line
    end; its value runs to the line end before the next tag, less leading line ends and
    trailing blanks.
    """
    cdef Py_ssize_t n = len(text), i = 0, value_at = 0, size, newlines = 0, line = 0
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef list out = []
    new = tuple.__new__  # what a NamedTuple's own __new__ calls, without the Python frame
    tag = None
    while i < n:
        if i == 0 or PyUnicode_READ(kind, data, i - 1) == u'\n':
            size = _tag_at(kind, data, n, i)
            if size:
                if tag is not None:  # the field before ends at the line end before this tag
                    out.append(new(cls, (tag, _stripped(text, kind, data, value_at, i - 1),
                                         line)))
                tag, line = text[i + 1:i + size - 1], 1 + newlines  # a tag holds no line end
                i += size
                value_at = i
                continue
        if PyUnicode_READ(kind, data, i) == u'\n':
            newlines += 1
        i += 1
    if tag is not None:
        out.append(new(cls, (tag, _stripped(text, kind, data, value_at, n), line)))
    return out


cdef Py_ssize_t _tag_at(int kind, void* data, Py_ssize_t n, Py_ssize_t i) noexcept:
    """The length of the `:NN:` or `:NNA:` tag at `i` (4 or 5), 0 if there is none."""
    if i + 4 > n or PyUnicode_READ(kind, data, i) != u':' \
            or not decimal(PyUnicode_READ(kind, data, i + 1)) \
            or not decimal(PyUnicode_READ(kind, data, i + 2)):
        return 0
    if PyUnicode_READ(kind, data, i + 3) == u':':
        return 4
    if i + 5 <= n and upper(PyUnicode_READ(kind, data, i + 3)) \
            and PyUnicode_READ(kind, data, i + 4) == u':':
        return 5
    return 0


cdef str _stripped(str text, int kind, void* data, Py_ssize_t start, Py_ssize_t end):
    """`text[start:end].lstrip("\\n").rstrip()`."""
    while start < end and PyUnicode_READ(kind, data, start) == u'\n':
        start += 1
    while end > start and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, end - 1)):
        end -= 1
    return text[start:end]


def entries(reader, list fields, cur, tuple parts):
    """`mt940._Reader.entries`: the statement's entries, asking `reader` for what is not
    at hand (a date, an amount, a composite key) and for a whole line it cannot read."""
    cdef Py_ssize_t i, k = 0, n = len(fields)
    cdef list out = [], banks = []
    cdef dict counts = {}
    cdef tuple field
    for i in range(n):  # the bank references first: a shared one is no entry's identity
        field = <tuple>fields[i]  # a _Field (a tuple subclass) throughout
        if field[0] == "61":
            ref = _bank_ref(<str>field[1])
            banks.append(ref)
            counts[ref] = counts.get(ref, 0) + 1
    context = _Context(reader, cur, Counter(counts), Counter(), parts)
    for i in range(n):
        field = <tuple>fields[i]
        if field[0] != "61":
            continue
        following = <tuple>fields[i + 1] if i + 1 < n else None
        out.append(context.entry(
            field, <str>following[1] if following is not None and following[0] == "86"
            else "", banks[k]))
        k += 1
    return tuple(out)


cdef str _first_row(str value):
    cdef Py_ssize_t end = value.find("\n")
    return value if end < 0 else value[:end]


cdef _bank_ref(str value):
    """`mt940._bank_ref`: what follows the first `//` on the first row, None if nothing."""
    cdef str first = _first_row(value)
    cdef Py_ssize_t at = first.find("//")
    return None if at < 0 else _bank_ref_of(first[at + 2:])


cdef _bank_ref_of(str text):
    ref = text.strip()
    return None if not ref or ref.upper() == "NONREF" else ref


cdef class _Context:
    """One statement's reading: its reader, caches and builders."""

    cdef object reader, cur, refs, seen, origin, new_entry, new_key, new_source
    cdef object read_field86, booked
    cdef dict days, bookings, signed

    def __init__(self, reader, cur, refs, seen, tuple parts):
        self.reader, self.cur, self.refs, self.seen = reader, cur, refs, seen
        self.origin = reader.origin
        self.days, self.bookings, self.signed = reader._days, reader._bookings, reader._signed
        self.new_entry, self.new_key, self.new_source, self.read_field86, self.booked = parts

    cdef entry(self, tuple field, str info, bank_ref):
        """`_Reader.entry` (`bank_ref` is `_bank_ref` of the line), or the reader's own when
        the line is not a statement line."""
        cdef str first = _first_row(<str>field[1]), ref
        cdef Py_ssize_t at
        head = _head61(first)
        if head is None:  # the reader says what is wrong, naming the line
            return self.reader.entry(field, info, self.cur, self.refs, self.seen)
        day, mmdd, mark, amount, code, end = head
        value_date = self.days.get(day)
        if value_date is None:
            value_date = self.reader.day(day, field)
        booking = self.bookings.get((value_date, mmdd))
        if booking is None:
            booking = self.reader.booking_day(value_date, mmdd)
        debit = mark[len(mark) - 1] == "D"
        signed = self.signed.get((amount, debit))
        if signed is None:
            signed = self.reader.signed(amount, debit, self.cur, field)
        at = first.find("//", end)  # the customer reference runs up to the bank's
        ref = first[end:] if at < 0 else first[end:at]
        details = _structured(info.replace("\n", ""))
        if details is None:  # another dialect: the Python reading
            found = self.read_field86(info)
            details = (found.remittance, found.counterparty_name, found.counterparty_account,
                       found.end_to_end_id, found.code)
        remittance, name, account, end_to_end_id, gvc = details
        if bank_ref and self.refs[bank_ref] == 1:
            key = self.new_key("bank_reference", bank_ref[:64])
        else:
            key = self.reader.composite(booking, signed, ref, code, info, self.seen)
        customer_ref = ref.strip()
        return self.new_entry(
            key, signed, self.booked, booking, value_date, bank_ref,
            end_to_end_id or (customer_ref if customer_ref not in ("", "NONREF") else None),
            name, account, remittance,
            self.new_source(self.origin, f"line {field[2]}"), b"", None, None,
            mark[0] == "R", code + "/" + gvc if gvc else code, ())
