# cython: language_level=3, boundscheck=False, wraparound=False
"""The C half of the MT940 reader's hottest steps (see `swift/compiled.py`).

Each function gives exactly what its Python twin gives, character for character:

- `head61(row)`: what `mt940._LINE61.match(row)` finds (the fixed head of a `:61:` row);
- `structured86(flat, new_details)`: `field86._structured(flat)` for a structured `:86:`
  (GVC, then `?NN` subfields), None for any other dialect;
- `has_control(text)`: whether `mt940._CONTROL` finds a control character;
- `fields(text, cls)`: `mt940._fields`, its tag split and loop in one pass;
- `statements(fields)`: `mt940._statements`; `tagged(fields, tags)`: the fields of those tags;
- `entries(reader, fields, cur, parts)`: `mt940._Reader.entries`; the reader is asked for
  what this does not do itself (dates not yet seen, amounts that are not plain, composite
  keys, other `:86:` dialects, and any line that is not a statement line, which the reader
  refuses naming its line). Its records are built by `_Slots`, which stores their slots
  itself and leaves them untracked by the cyclic collector (`make` shows it to the tests).

A regex `\\d` in a str pattern is a Unicode decimal digit (sre's `Py_UNICODE_ISDECIMAL`):
so is `decimal` here. The tests run both halves over every sample and generated text.
"""

from collections import Counter
from decimal import Decimal
from types import MemberDescriptorType

from cpython.dict cimport PyDict_GetItem
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.sequence cimport PySequence_Fast_ITEMS
from cpython.tuple cimport PyTuple_SET_ITEM
from libc.string cimport memchr
from cpython.unicode cimport PyUnicode_DATA, PyUnicode_KIND, PyUnicode_READ

cdef extern from "Python.h":
    bint Py_UNICODE_ISDECIMAL(Py_UCS4 ch)
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch)
    bint PyUnicode_IS_ASCII(object text)
    object PyType_GenericAlloc(PyTypeObject* cls, Py_ssize_t items)
    void PyObject_GC_UnTrack(void* op)
    PyObject* PyDict_SetDefault(object d, object key, object default) except NULL
    object PyUnicode_DecodeASCII(const char* s, Py_ssize_t size, const char* errors)
    str PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)

cdef extern from "stdio.h":
    int snprintf(char* out, size_t size, const char* format, ...)

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        const char* name
        int type
        Py_ssize_t offset
        int flags
    int T_OBJECT_EX
    int READONLY

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member

cdef class _Last  # below: the last characters looked up


cdef inline bint decimal(Py_UCS4 c) noexcept:
    if c < 128:  # the usual case, without the Unicode table
        return 48 <= c <= 57
    return Py_UNICODE_ISDECIMAL(c)


cdef inline bint upper(Py_UCS4 c) noexcept:
    return u'A' <= c <= u'Z'


def head61(str row):
    """(value date, entry date or None, mark, amount, type code, end) as `_LINE61.match`
    finds them at the start of `row`, or None where it finds no match."""
    cdef _Head h
    if not _scan61(row, &h):
        return None
    return (row[:6], row[6:10] if h.mark_at == 10 else None, row[h.mark_at:h.mark_end],
            row[h.amount_at:h.amount_end], row[h.amount_end:h.amount_end + 4],
            h.amount_end + 4)


cdef struct _Head:
    # where `_LINE61`'s groups are in the row: the value date is [0, 6), the entry date
    # [6, 10) when mark_at is 10, the type code the four characters after the amount
    Py_ssize_t mark_at, mark_end, amount_at, amount_end


cdef bint _scan61(str row, _Head* h) noexcept:
    """Whether `_LINE61` matches at the start of `row`, and where its groups are.

    The pattern never needs to go back: the optional entry date is four digits before a
    mark (never a digit), the funds code a letter before the amount (a digit), and the
    amount the longest run of digits and commas before the type code (a letter).
    """
    cdef Py_ssize_t n = len(row), i, k
    cdef Py_UCS4 c
    cdef int kind = PyUnicode_KIND(row)
    cdef void* data = PyUnicode_DATA(row)
    if n < 12:  # 6 + mark + 1 amount digit + 4
        return False
    for i in range(6):
        if not decimal(PyUnicode_READ(kind, data, i)):
            return False
    i = 6
    if decimal(PyUnicode_READ(kind, data, 6)) and decimal(PyUnicode_READ(kind, data, 7)) \
            and decimal(PyUnicode_READ(kind, data, 8)) \
            and decimal(PyUnicode_READ(kind, data, 9)):
        i = 10
    h.mark_at = i
    if i >= n:
        return False
    c = PyUnicode_READ(kind, data, i)
    if (c == u'R' or c == u'E') and i + 1 < n and (
            PyUnicode_READ(kind, data, i + 1) == u'C' or PyUnicode_READ(kind, data, i + 1) == u'D'):
        i += 2
    elif c == u'C' or c == u'D':
        i += 1
    else:
        return False
    h.mark_end = i
    if i < n and upper(PyUnicode_READ(kind, data, i)):  # the funds code
        i += 1
    h.amount_at = i
    if i >= n or not decimal(PyUnicode_READ(kind, data, i)):
        return False
    i += 1
    while i < n and (decimal(PyUnicode_READ(kind, data, i))
                     or PyUnicode_READ(kind, data, i) == u','):
        i += 1
    h.amount_end = i
    if i + 4 > n or not upper(PyUnicode_READ(kind, data, i)):
        return False
    for k in range(i + 1, i + 4):
        c = PyUnicode_READ(kind, data, k)
        if not (upper(c) or u'0' <= c <= u'9' or c == u' '):
            return False
    return True


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
    cdef tuple found = _structured(flat, None)
    return None if found is None else new_details(*found)


cdef tuple _structured(str flat, _Last codes):
    """`structured86`'s values (remittance, name, account, end-to-end id, code), or None;
    the code is the one `codes` last gave when it is the same.

    The remittance pieces are not joined into a str: their characters are copied into one
    buffer, the SEPA keys are found there, and each value is cut from `flat` itself when it
    lies inside one piece (the usual), else made from the buffer.
    """
    cdef Py_ssize_t n = len(flat), p, q, code, slot, last = -1, count = 0, k, j, total = 0
    cdef int mask = 0, kind = PyUnicode_KIND(flat)
    cdef void* data = PyUnicode_DATA(flat)
    cdef int slots[14]
    cdef Py_ssize_t starts[14]
    cdef Py_ssize_t ends[14]
    cdef _Pieces pieces
    cdef Py_UCS4 local[256]
    cdef bint in_order = True, has31 = False, has32 = False, has33 = False
    cdef str name32 = "", name33 = "", account31 = ""
    cdef Py_ssize_t spans[6]  # SVWZ, IBAN, EREF: [start, end) in the buffer, -1 if absent
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
                slots[count], starts[count], ends[count] = slot, p + 2, q
                total += q - p - 2
                count += 1
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
    name = ((name32 + name33).strip() or None) if has32 or has33 else None
    account = (account31.strip() or None) if has31 else None
    pieces.flat, pieces.kind, pieces.data = <PyObject*>flat, kind, data
    pieces.count = pieces.size = 0
    if total <= 256:
        pieces.chars = &local[0]
    else:
        pieces.chars = <Py_UCS4*>PyMem_Malloc(total * sizeof(Py_UCS4))
        if pieces.chars == NULL:
            raise MemoryError()
    try:
        if in_order:  # the usual
            for k in range(count):
                _add_piece(&pieces, starts[k], ends[k])
        else:  # in code order, as the Python reading joins them
            for slot in range(14):
                for k in range(count):
                    if slots[k] == slot:
                        _add_piece(&pieces, starts[k], ends[k])
        if not _sepa_spans(pieces.chars, pieces.size, spans):
            return (_cut(&pieces, 0, pieces.size) or None, name, account, None,
                    _code(flat, kind, data, codes))
        text = _cut(&pieces, spans[0], spans[1]) if spans[0] >= 0 \
            else _cut(&pieces, 0, pieces.size)
        iban = _cut(&pieces, spans[2], spans[3]) if spans[2] >= 0 else None
        ref = _cut(&pieces, spans[4], spans[5]) if spans[4] >= 0 else None
        return (text or None, name, account or iban, _ref(ref), _code(flat, kind, data, codes))
    finally:
        if pieces.chars != &local[0]:
            PyMem_Free(pieces.chars)


cdef struct _Pieces:
    # the remittance pieces of an :86:, their characters one after another in `chars`
    PyObject* flat
    int kind
    void* data
    Py_UCS4* chars
    Py_ssize_t size, count
    Py_ssize_t at[15]  # where each piece starts in `chars` (and at[count] the end)
    Py_ssize_t start[14]  # and in flat


cdef void _add_piece(_Pieces* pieces, Py_ssize_t start, Py_ssize_t end) noexcept:
    cdef Py_ssize_t i
    pieces.at[pieces.count], pieces.start[pieces.count] = pieces.size, start
    for i in range(start, end):
        pieces.chars[pieces.size] = PyUnicode_READ(pieces.kind, pieces.data, i)
        pieces.size += 1
    pieces.count += 1
    pieces.at[pieces.count] = pieces.size


cdef str _cut(_Pieces* pieces, Py_ssize_t start, Py_ssize_t end):
    """The stripped text of [start, end) of the joined pieces: cut from the :86: when it is
    inside one piece, else made from the characters."""
    cdef Py_ssize_t k, offset
    while start < end and Py_UNICODE_ISSPACE(pieces.chars[start]):
        start += 1
    while end > start and Py_UNICODE_ISSPACE(pieces.chars[end - 1]):
        end -= 1
    for k in range(pieces.count):
        if pieces.at[k] <= start and end <= pieces.at[k + 1]:
            offset = pieces.start[k] - pieces.at[k]
            return (<str><object>pieces.flat)[start + offset:end + offset]
    return PyUnicode_FromKindAndData(4, pieces.chars + start, end - start)


cdef str _code(str flat, int kind, void* data, _Last codes):
    return flat[:3] if codes is None else codes.text(flat, kind, data, 0, 3)


cdef inline Py_ssize_t _ascii_code(Py_UCS4 a, Py_UCS4 b) noexcept:
    """The number of two ASCII digits; -1 for other decimal digits (never a known code)."""
    if u'0' <= a <= u'9' and u'0' <= b <= u'9':
        return (<Py_ssize_t>a - 48) * 10 + (<Py_ssize_t>b - 48)  # 48: '0'
    return -1


cdef bint _sepa_spans(Py_UCS4* text, Py_ssize_t n, Py_ssize_t* spans) noexcept:
    """Where `field86._sepa_parts(text)` finds SVWZ, IBAN and EREF ([start, end) pairs in
    `spans`, -1 where absent), False when the text has no key: each key ends at a `+` and
    its value runs to the next key; a later key wins."""
    cdef bint found = False
    cdef Py_ssize_t j, size = 0, value_at = -1, i
    cdef int which = -1, next_which = -1
    for i in range(6):
        spans[i] = -1
    for j in range(n + 1):
        if j < n:
            if text[j] != u'+':
                continue
            next_which = _sepa_key(4, <void*>text, j, &size)
            if next_which < 0:
                continue
            found = True
        if which >= 0 and which < 3:  # the value of the key before, up to here
            spans[2 * which], spans[2 * which + 1] = value_at, (j - size if j < n else n)
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
    return None if not ref or _is_word(<str>ref, "NOTPROVIDED") or _is_word(<str>ref, "NONREF") \
        else ref


cdef bint _is_word(str text, str word):
    """`text.upper() == word` for an upper-case ASCII `word`, without the copy when `text`
    is ASCII (other text goes through `upper`: 'ı'.upper() is 'I')."""
    cdef Py_ssize_t n = len(word), i, c
    cdef void* data
    if not PyUnicode_IS_ASCII(text):
        return text.upper() == word
    if len(text) != n:
        return False
    data = PyUnicode_DATA(text)
    for i in range(n):
        c = <Py_ssize_t>PyUnicode_READ(1, data, i)
        if 97 <= c <= 122:  # a-z
            c -= 32
        if c != <Py_ssize_t>PyUnicode_READ(1, PyUnicode_DATA(word), i):
            return False
    return True


def has_control(str text):
    """Whether `text` holds a control character `mt940._CONTROL` removes."""
    cdef Py_ssize_t i, n = len(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef const unsigned char* latin = <const unsigned char*>data
    cdef Py_UCS4 c
    if kind == 1:  # one byte a character (the usual): no kind switch per character
        for i in range(n):
            if latin[i] < 0x20 and latin[i] != 0x09 and latin[i] != 0x0a \
                    and latin[i] != 0x0d or latin[i] == 0x7f:
                return True
        return False
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        if c < 0x20 and c != 0x09 and c != 0x0a and c != 0x0d or c == 0x7f:
            return True
    return False


#: The two-digit tags, one str each: the fields share them, and a tag is compared with one
#: by identity before its characters.
cdef tuple _TWO = tuple([f"{i:02d}" for i in range(100)])
cdef str _T20 = <str>_TWO[20]
cdef str _T61 = <str>_TWO[61]
cdef str _T86 = <str>_TWO[86]


cdef inline bint _is(str tag, str known):
    return tag is known or tag == known


def fields(str text, cls):
    """`mt940._fields(text)`: a `cls` (tag, value, line) per `:tag:` at a line start.

    What the split by `mt940._TAG_LINE` and its loop give, in one pass over the text: a tag
    is `:`, two digits, an optional letter and `:` at the start of the text or after a line
    end; its value runs to the line end before the next tag, less leading line ends and
    trailing blanks. `cls` is a tuple subclass of no slots of its own (a NamedTuple).
    """
    cdef Py_ssize_t n = len(text), i = 0, value_at = 0, size, newlines = 0, line = 0
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef list out = []
    cdef Py_UCS4 a, b
    if not (isinstance(cls, type) and issubclass(cls, tuple)
            and cls.__basicsize__ == tuple.__basicsize__):
        raise TypeError(f"{cls!r} is not a tuple class without slots of its own")
    tag = None
    while i < n:  # at a line start
        size = _tag_at(kind, data, n, i)
        if size:
            if tag is not None:  # the field before ends at the line end before this tag
                out.append(_field(cls, tag, _stripped(text, kind, data, value_at, i - 1), line))
            a, b = PyUnicode_READ(kind, data, i + 1), PyUnicode_READ(kind, data, i + 2)
            if size == 4 and u'0' <= a <= u'9' and u'0' <= b <= u'9':
                tag = _TWO[(<Py_ssize_t>a - 48) * 10 + (<Py_ssize_t>b - 48)]
            else:
                tag = text[i + 1:i + size - 1]  # a tag holds no line end
            line = 1 + newlines
            i += size
            value_at = i
        i = _newline(kind, data, i, n)
        if i < 0:
            break
        newlines += 1
        i += 1
    if tag is not None:
        out.append(_field(cls, tag, _stripped(text, kind, data, value_at, n), line))
    return out


def statements(list fields):
    """`mt940._statements`: the fields, cut before every `:20:` but the first."""
    cdef list out = [], block = []
    for field in fields:
        if block and _is(<str>(<tuple>field)[0], _T20):
            out.append(block)
            block = []
        block.append(field)
    if block:
        out.append(block)
    return out


def tagged(list fields, dict tags):
    """The fields whose tag is one of `tags`, in order."""
    return [field for field in fields if (<tuple>field)[0] in tags]


cdef inline Py_ssize_t _newline(int kind, void* data, Py_ssize_t start, Py_ssize_t n) noexcept:
    """Where the first line end at or after `start` is, -1 if there is none."""
    cdef const char* found
    if kind == 1:  # one byte a character: the C library's search
        found = <const char*>memchr(<const char*>data + start, 10, n - start)
        return -1 if found == NULL else found - <const char*>data
    while start < n:
        if PyUnicode_READ(kind, data, start) == u'\n':
            return start
        start += 1
    return -1


cdef object _field(object cls, object tag, object value, object line):
    """`cls((tag, value, line))` as `tuple.__new__` builds it, and untracked by the cyclic
    collector: a tuple of atoms is in no cycle (the collector would untrack it itself, after
    a pass over it)."""
    made = PyType_GenericAlloc(<PyTypeObject*>cls, 3)
    Py_INCREF(tag)
    PyTuple_SET_ITEM(made, 0, tag)
    Py_INCREF(value)
    PyTuple_SET_ITEM(made, 1, value)
    Py_INCREF(line)
    PyTuple_SET_ITEM(made, 2, line)
    PyObject_GC_UnTrack(<void*>made)
    return made


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


cdef class _Slots:
    """Builds instances of a frozen slots dataclass from values in the order of `names` by
    storing each value in its slot, as the slot's own descriptor does when the generated
    `__init__` sets it, without the call and its keywords.

    The class must have object fields only, no base but `object`, no `__post_init__`, and
    `names` must name each field once. What it builds is untracked by the cyclic collector:
    its fields are set here only, to values that exist before it, so it is in no cycle
    (a statement's ~500,000 records cost the collector passes otherwise, bench/formats.py).
    """

    cdef object cls
    cdef Py_ssize_t n
    cdef Py_ssize_t offsets[24]

    def __init__(self, cls, tuple names, bint checked=False):
        """`checked`: the caller checks what the class's `__post_init__` would."""
        cdef Py_ssize_t i
        cdef PyMemberDef* member
        if cls.__bases__ != (object,) or cls.__new__ is not object.__new__ \
                or cls.__basicsize__ != object.__basicsize__ + len(names) * sizeof(PyObject*) \
                or hasattr(cls, "__post_init__") and not checked \
                or sorted(names) != sorted(getattr(cls, "__slots__", ())) \
                or len(set(names)) != len(names) or len(names) > 24:
            raise TypeError(f"{cls!r} cannot be built from the slots {names!r}")
        for i, name in enumerate(names):
            slot = cls.__dict__[name]
            if type(slot) is not MemberDescriptorType:
                raise TypeError(f"{cls.__name__}.{name} is not a slot")
            member = (<PyMemberDescrObject*>slot).d_member
            if member.type != T_OBJECT_EX or member.flags & READONLY:
                raise TypeError(f"{cls.__name__}.{name} is not a settable object slot")
            self.offsets[i] = member.offset
        self.cls, self.n = cls, len(names)

    cdef object make(self, tuple values):
        if len(values) != self.n:
            raise TypeError(f"{self.cls.__name__} takes {self.n} values, {len(values)} given")
        return self.new(PySequence_Fast_ITEMS(values))

    cdef object new(self, PyObject** values):
        """An instance holding `values` (`n` of them, none NULL; each gets a reference)."""
        cdef Py_ssize_t i
        made = PyType_GenericAlloc(<PyTypeObject*>self.cls, 0)
        for i in range(self.n):
            Py_INCREF(<object>values[i])
            (<PyObject**>((<char*><PyObject*>made) + self.offsets[i]))[0] = values[i]
        PyObject_GC_UnTrack(<void*>made)
        return made


def make(cls, tuple names, tuple values):
    """A `cls` built by `_Slots` (for the tests: what it builds equals the class's own)."""
    return _Slots(cls, names).make(values)


cdef class _Last:
    """The last few characters looked up, and what they gave."""

    cdef Py_UCS4 chars[16]
    cdef Py_ssize_t size
    cdef object value

    def __cinit__(self):
        self.size = -1

    cdef bint same(self, int kind, void* data, Py_ssize_t start, Py_ssize_t size) noexcept:
        cdef Py_ssize_t i
        if size != self.size:
            return False
        for i in range(size):
            if PyUnicode_READ(kind, data, start + i) != self.chars[i]:
                return False
        return True

    cdef void keep(self, int kind, void* data, Py_ssize_t start, Py_ssize_t size, value):
        cdef Py_ssize_t i
        self.size = size if size <= 16 else -1
        for i in range(min(size, 16)):
            self.chars[i] = PyUnicode_READ(kind, data, start + i)
        self.value = value

    cdef str text(self, str source, int kind, void* data, Py_ssize_t start, Py_ssize_t size):
        """`source[start:start + size]`, the same str as last time when it is the same."""
        if not self.same(kind, data, start, size):
            self.keep(kind, data, start, size, source[start:start + size])
        return <str>self.value


cdef str _BANK_REFERENCE = "bank_reference"
cdef bytes _NO_BYTES = b""
cdef tuple _NO_TRANSACTIONS = ()

#: The record builders of each `parts` given to `entries`, by its id (held with it).
cdef dict _BUILDERS = {}


def entries(reader, list fields, cur, tuple parts):
    """`mt940._Reader.entries`: the statement's entries, asking `reader` for what is not
    at hand (a date, an amount, a composite key) and for a whole line it cannot read.

    `parts`: the entry, key and source classes, each with the order of its values, the
    `:86:` reader for the other dialects, and the status of a statement line.
    """
    cdef Py_ssize_t i, k = 0, n = len(fields)
    cdef list out = [], banks = []
    cdef tuple field
    cdef set shared = set()
    cdef dict first_with = {}
    for i in range(n):  # the bank references first: a shared one is no entry's identity
        field = <tuple>fields[i]  # a _Field (a tuple subclass) throughout
        if _is(<str>field[0], _T61):
            ref = _bank_ref(<str>field[1])
            banks.append(ref)
            if ref is not None and <object>PyDict_SetDefault(first_with, ref, field) is not field:
                shared.add(ref)
    context = _Context(reader, cur, banks, shared, parts)
    for i in range(n):
        field = <tuple>fields[i]
        if not _is(<str>field[0], _T61):
            continue
        following = <tuple>fields[i + 1] if i + 1 < n else None
        out.append(context.entry(
            field, <str>following[1] if following is not None
            and _is(<str>(<tuple>following)[0], _T86) else "", banks[k]))
        k += 1
    return tuple(out)


cdef str _line(Py_ssize_t number):
    """f"line {number}", built once."""
    cdef char text[32]
    return PyUnicode_DecodeASCII(text, snprintf(text, 32, "line %zd", number), NULL)


cdef str _first_row(str value):
    cdef Py_ssize_t end = _newline(PyUnicode_KIND(value), PyUnicode_DATA(value), 0, len(value))
    return value if end < 0 else value[:end]


cdef _bank_ref(str value):
    """`mt940._bank_ref`: what follows the first `//` on the first row, stripped, None if
    nothing (or NONREF)."""
    cdef int kind = PyUnicode_KIND(value)
    cdef void* data = PyUnicode_DATA(value)
    cdef Py_ssize_t end = _newline(kind, data, 0, len(value)), at, start
    if end < 0:
        end = len(value)
    at = _slashes(kind, data, 0, end)
    if at < 0:
        return None
    start = _strip(kind, data, at + 2, &end)
    if start == end:
        return None
    ref = value[start:end]
    return None if _is_word(ref, "NONREF") else ref


cdef Py_ssize_t _slashes(int kind, void* data, Py_ssize_t start, Py_ssize_t end) noexcept:
    """Where the first `//` in [start, end) is, -1 if there is none."""
    cdef Py_ssize_t i
    for i in range(start, end - 1):
        if PyUnicode_READ(kind, data, i) == u'/' and PyUnicode_READ(kind, data, i + 1) == u'/':
            return i
    return -1


cdef Py_ssize_t _strip(int kind, void* data, Py_ssize_t start, Py_ssize_t* end) noexcept:
    """[start, end) less the white space `str.strip` takes off: the new start (and end)."""
    while start < end[0] and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, start)):
        start += 1
    while end[0] > start and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, end[0] - 1)):
        end[0] -= 1
    return start


cdef class _Context:
    """One statement's reading: its reader, caches and builders."""

    cdef object reader, cur, seen, origin, read_field86, booked
    cdef list banks
    cdef set shared
    cdef _Slots new_entry, new_key, new_source, new_money
    cdef Py_ssize_t minor_units
    cdef dict days, bookings, credits, debits
    # the last value date, value and entry date, type code and GVC by their characters
    cdef _Last day, booking, code, gvc
    cdef object last_code, last_gvc, last_both

    def __init__(self, reader, cur, list banks, set shared, tuple parts):
        self.reader, self.cur, self.banks, self.shared = reader, cur, banks, shared
        self.seen = Counter()
        self.origin = reader.origin
        self.days, self.bookings = reader._days, reader._bookings
        self.credits, self.debits = {}, {}
        builders = _BUILDERS.get(id(parts))
        if builders is None:
            builders = _BUILDERS[id(parts)] = (parts, _Slots(parts[0], parts[1]),
                                               _Slots(parts[2], parts[3]),
                                               _Slots(parts[4], parts[5]),
                                               _Slots(parts[8], parts[9], True))
        _, self.new_entry, self.new_key, self.new_source, self.new_money = builders
        self.read_field86, self.booked = parts[6], parts[7]
        self.minor_units = cur.minor_units
        self.day, self.booking, self.code, self.gvc = _Last(), _Last(), _Last(), _Last()

    cdef money(self, str text, bint debit):
        """`_Reader.signed(text, debit)` for the plainest amounts (ASCII digits, at most one
        comma before any trailing ones, no more decimals than the currency has, not zero,
        less than MAX_AMOUNT_DIGITS integer digits), None for any other: the checks of
        `Money.__post_init__` are these, so the Money is built without it."""
        cdef Py_ssize_t n = len(text), i, comma = -1, digits = 0, decimals
        cdef Py_UCS4 c
        cdef bint nonzero = False, leading = True
        cdef int kind = PyUnicode_KIND(text)
        cdef void* data = PyUnicode_DATA(text)
        cdef PyObject* values[2]
        cdef char plain[48]  # [-]digits[.decimals], as Decimal reads it
        cdef Py_ssize_t w = 0
        while n > 0 and PyUnicode_READ(kind, data, n - 1) == u',':
            n -= 1
        if n > 40 or self.minor_units > 6:  # leading zeros; the plain text must fit
            return None
        for i in range(n):
            c = PyUnicode_READ(kind, data, i)
            if c == u',':
                if comma >= 0:
                    return None
                comma = i
            elif u'0' <= c <= u'9':
                if c != u'0':
                    nonzero = True
                if comma < 0 and (c != u'0' or not leading):
                    leading = False
                    digits += 1
            else:
                return None
        decimals = 0 if comma < 0 else n - comma - 1
        if not nonzero or decimals > self.minor_units or digits >= 16:  # 15: MAX_AMOUNT_DIGITS
            return None
        if debit:
            plain[0] = b'-'
            w = 1
        for i in range(comma if comma >= 0 else n):
            plain[w] = <char>PyUnicode_READ(kind, data, i)
            w += 1
        if self.minor_units:
            plain[w] = b'.'
            w += 1
            for i in range(self.minor_units):
                plain[w] = <char>PyUnicode_READ(kind, data, comma + 1 + i) if i < decimals \
                    else b'0'
                w += 1
        amount = Decimal(PyUnicode_DecodeASCII(plain, w, NULL))
        values[0], values[1] = <PyObject*>amount, <PyObject*>self.cur
        return self.new_money.new(values)

    cdef entry(self, tuple field, str info, bank_ref):
        """`_Reader.entry` (`bank_ref` is `_bank_ref` of the line), or the reader's own when
        the line is not a statement line."""
        cdef str first = _first_row(<str>field[1]), code
        cdef Py_ssize_t at, end, n = len(first), start, stop
        cdef _Head h
        cdef int kind = PyUnicode_KIND(first)
        cdef void* data = PyUnicode_DATA(first)
        cdef bint debit
        cdef dict amounts
        cdef PyObject* found
        cdef PyObject* values[17]
        if self.new_entry.n != 17 or self.new_key.n != 2 or self.new_source.n != 2:
            raise TypeError("an entry is built from 17 values, a key and a source from 2")
        if not _scan61(first, &h):  # the reader says what is wrong, naming the line
            return self.reader.entry(field, info, self.cur, Counter(self.banks), self.seen)
        if not self.booking.same(kind, data, 0, h.mark_at):  # value date [+ entry date]
            if not self.day.same(kind, data, 0, 6):
                day = first[:6]
                value_date = self.days.get(day)
                if value_date is None:
                    value_date = self.reader.day(day, field)
                self.day.keep(kind, data, 0, 6, value_date)
            value_date = self.day.value
            mmdd = first[6:10] if h.mark_at == 10 else None
            booking = self.bookings.get((value_date, mmdd))
            if booking is None:
                booking = self.reader.booking_day(value_date, mmdd)
            self.booking.keep(kind, data, 0, h.mark_at, booking)
        value_date, booking = self.day.value, self.booking.value
        debit = PyUnicode_READ(kind, data, h.mark_end - 1) == u'D'
        amount = first[h.amount_at:h.amount_end]
        amounts = self.debits if debit else self.credits
        found = PyDict_GetItem(amounts, amount)
        if found is NULL:
            signed = self.money(amount, debit)
            if signed is None:  # the reader's own reading, which says what is wrong
                signed = self.reader.signed(amount, debit, self.cur, field)
            if len(amounts) < 8192:  # amounts repeat (the first ones kept; a cache that is
                amounts[amount] = signed  # cleared and filled again costs more than it saves)
        else:
            signed = <object>found
        code = self.code.text(first, kind, data, h.amount_end, 4)
        end = h.amount_end + 4
        at = _slashes(kind, data, end, n)  # the customer reference runs up to the bank's
        if at < 0:
            at = n
        flat = info.replace("\n", "") if _newline(PyUnicode_KIND(info), PyUnicode_DATA(info), 0,
                                                   len(info)) >= 0 else info
        details = _structured(flat, self.gvc)
        if details is None:  # another dialect: the Python reading
            read = self.read_field86(info)
            details = (read.remittance, read.counterparty_name, read.counterparty_account,
                       read.end_to_end_id, read.code)
        remittance, name, account, end_to_end_id, gvc = details
        if bank_ref is not None and not (self.shared and bank_ref in self.shared):
            value = bank_ref[:64]
            values[0], values[1] = <PyObject*>_BANK_REFERENCE, <PyObject*>value
            key = self.new_key.new(values)
        else:
            key = self.reader.composite(booking, signed, first[end:at], code, info, self.seen)
        if not gvc:
            both = code
        elif code is self.last_code and gvc is self.last_gvc:
            both = self.last_both
        else:
            both = self.last_both = code + "/" + gvc
            self.last_code, self.last_gvc = code, gvc
        where = _line(<Py_ssize_t>field[2])
        values[0], values[1] = <PyObject*>self.origin, <PyObject*>where
        source = self.new_source.new(values)
        if not end_to_end_id:  # the customer's reference, stripped, unless "" or NONREF
            stop = at
            start = _strip(kind, data, end, &stop)
            end_to_end_id = None if start == stop else first[start:stop]
            if end_to_end_id == "NONREF":
                end_to_end_id = None
        reversal = PyUnicode_READ(kind, data, h.mark_at) == u'R'
        values[0], values[1], values[2] = <PyObject*>key, <PyObject*>signed, <PyObject*>self.booked
        values[3], values[4], values[5] = <PyObject*>booking, <PyObject*>value_date, \
            <PyObject*>bank_ref
        values[6], values[7], values[8] = <PyObject*>end_to_end_id, <PyObject*>name, \
            <PyObject*>account
        values[9], values[10], values[11] = <PyObject*>remittance, <PyObject*>source, \
            <PyObject*>_NO_BYTES
        values[12] = values[13] = <PyObject*>None
        values[14], values[15], values[16] = <PyObject*>reversal, <PyObject*>both, \
            <PyObject*>_NO_TRANSACTIONS
        return self.new_entry.new(values)  # in the order of mt940._ENTRY_SLOTS
