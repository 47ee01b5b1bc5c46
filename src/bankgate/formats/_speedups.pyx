# cython: language_level=3, boundscheck=False, wraparound=False
"""The C halves of the readers' two hottest steps (see `formats/speedups.py`).

`pull` reads the fields a `Plan` names out of an element that lxml has already parsed, by
walking libxml2's nodes directly: no lxml proxy, no string per element that is not wanted.
It only reads the tree (type, name, namespace, children, content); it calls no libxml2
function and changes nothing, so lxml's own bookkeeping is never touched.

`Maker` builds a frozen slots dataclass from values in a stated order by calling each slot's
own descriptor setter, which is what the generated `__init__` does through
`object.__setattr__`, without the keyword parsing and the per-field Python calls.

Both have pure-Python twins in `formats/speedups.py` giving the same values; the tests run
both over every sample and generated files, and compare.
"""

from cpython.object cimport PyTypeObject, descrsetfunc
from cpython.ref cimport Py_TYPE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memchr, memcmp, strcmp, strlen
from lxml.includes cimport tree
from lxml.includes.etreepublic cimport LXML_VERSION_STRING, _Element

#: The lxml whose headers this was compiled against (`speedups` uses it only with that one).
LXML_VERSION = LXML_VERSION_STRING.decode()

cdef enum:
    KIND_NONE = 0
    KIND_AMOUNT = 1
    KIND_TEXTS = 2
    KIND_RECORD = 3


cdef class CompiledPlan:
    """A `Plan` as C arrays: per wanted child its name, text slot, kind and gather slot."""

    cdef Py_ssize_t size
    cdef int n
    cdef const char** names
    cdef int* text
    cdef int* kind
    cdef int* slot
    cdef list records  # CompiledPlan or None, per want: the plan of each gathered record
    cdef list deeper  # CompiledPlan or None, per want: wanted children, same record
    cdef list owned  # the bytes the names point into

    def __cinit__(self):
        self.names = NULL
        self.text = self.kind = self.slot = NULL

    def __dealloc__(self):
        free(self.names)
        free(self.text)
        free(self.kind)
        free(self.slot)


def compile_plan(plan, Py_ssize_t size):
    """The CompiledPlan of `plan` (a `Plan`'s wants); `size` slots in its record."""
    cdef CompiledPlan out = CompiledPlan()
    wants = tuple(plan)
    out.size = size
    out.n = len(wants)
    out.names = <const char**>malloc(max(out.n, 1) * sizeof(char*))
    out.text = <int*>malloc(max(out.n, 1) * sizeof(int))
    out.kind = <int*>malloc(max(out.n, 1) * sizeof(int))
    out.slot = <int*>malloc(max(out.n, 1) * sizeof(int))
    if not (out.names and out.text and out.kind and out.slot):
        raise MemoryError()
    out.owned, out.records, out.deeper = [], [], []
    for i, want in enumerate(wants):
        name = want.name.encode("utf-8")
        out.owned.append(name)
        out.names[i] = <const char*>name
        out.text[i] = want.text
        out.kind[i] = want.kind
        out.slot[i] = want.slot
        out.records.append(compile_plan(want.record.wants, want.record.size)
                           if want.record is not None else None)
        out.deeper.append(compile_plan(want.deeper, 0) if want.deeper else None)
    return out


cdef inline bint _is_text(tree.xmlNode* node) noexcept nogil:
    return node is not NULL and (node.type == tree.XML_TEXT_NODE
                                 or node.type == tree.XML_CDATA_SECTION_NODE)


cdef inline object _content(tree.xmlNode* node):
    cdef const char* content = <const char*>node.content
    if content is NULL:
        return ""
    return PyUnicode_DecodeUTF8(content, strlen(content), NULL)


cdef object _joined(tree.xmlNode* first):
    """The text of `first` and the text nodes right after it, as lxml's `.text` gives it."""
    cdef tree.xmlNode* node = first
    if not _is_text(node.next):
        return _content(node)
    parts = []
    while _is_text(node):
        parts.append(_content(node))
        node = node.next
    return "".join(parts)


cdef object _text(tree.xmlNode* element):
    """The element's text stripped, or None when there is none."""
    cdef tree.xmlNode* first = element.children
    if not _is_text(first):
        return None
    text = _joined(first).strip()
    return text if text else None


cdef object _attribute(tree.xmlNode* element, const char* name):
    """The value of the element's attribute `name` in no namespace, or None."""
    cdef tree.xmlAttr* attribute = element.properties
    while attribute is not NULL:
        if attribute.ns is NULL and strcmp(<const char*>attribute.name, name) == 0:
            return _joined(attribute.children) if _is_text(attribute.children) else ""
        attribute = attribute.next
    return None


cdef struct Namespace:
    const char* href  # NULL: elements in no namespace
    tree.xmlNs* known  # the declaration last seen to match


cdef inline bint _in(tree.xmlNode* node, Namespace* ns) noexcept nogil:
    if ns.href is NULL:
        return node.ns is NULL
    if node.ns is NULL or node.ns.href is NULL:
        return False
    if node.ns is ns.known:
        return True
    if strcmp(<const char*>node.ns.href, ns.href) == 0:
        ns.known = node.ns
        return True
    return False


cdef int _walk(tree.xmlNode* parent, CompiledPlan plan, Namespace* ns, list out) except -1:
    cdef tree.xmlNode* child = parent.children
    cdef int i
    while child is not NULL:
        if child.type == tree.XML_ELEMENT_NODE and _in(child, ns):
            for i in range(plan.n):
                if strcmp(<const char*>child.name, plan.names[i]) == 0:
                    _take(child, plan, i, ns, out)
                    break
        child = child.next
    return 0


cdef int _take(tree.xmlNode* child, CompiledPlan plan, int i, Namespace* ns,
               list out) except -1:
    cdef int at = plan.text[i]
    cdef int kind = plan.kind[i]
    cdef CompiledPlan record
    if at >= 0 and out[at] is None:
        out[at] = _text(child)
    if kind == KIND_AMOUNT:
        at = plan.slot[i]
        if out[at] is None:
            out[at] = (_text(child) or "", _attribute(child, b"Ccy") or "")
    elif kind == KIND_TEXTS or kind == KIND_RECORD:
        at = plan.slot[i]
        gathered = out[at]
        if gathered is None:
            gathered = out[at] = []
        if kind == KIND_TEXTS:
            text = _text(child)
            if text is not None:
                (<list>gathered).append(text)
        else:
            record = <CompiledPlan>plan.records[i]
            values = [None] * record.size
            _walk(child, record, ns, values)
            (<list>gathered).append(values)
    deeper = plan.deeper[i]
    if deeper is not None:
        _walk(child, <CompiledPlan>deeper, ns, out)
    return 0


def pull(_Element element not None, CompiledPlan plan not None, bytes href):
    """The values `plan` names in `element`'s subtree, elements in namespace `href`
    (None: in no namespace)."""
    cdef Namespace ns
    ns.href = NULL if href is None else <const char*>href
    ns.known = NULL
    out = [None] * plan.size
    _walk(element._c_node, plan, &ns, out)
    return out


cdef class Maker:
    """Builds `cls` (a frozen slots dataclass without `__post_init__`) from values given in
    the order of `names`, which must name every field once."""

    cdef object cls
    cdef object new
    cdef tuple setters
    cdef Py_ssize_t n

    def __init__(self, cls, names):
        self.cls = cls
        self.new = object.__new__
        self.setters = tuple(cls.__dict__[name] for name in names)
        for slot in self.setters:
            if (<PyTypeObject*>Py_TYPE(slot)).tp_descr_set is NULL:
                raise TypeError(f"{cls.__name__}: {slot!r} is not a settable slot")
        self.n = len(self.setters)

    def __call__(self, *values):
        cdef Py_ssize_t i
        cdef descrsetfunc setter
        if len(values) != self.n:
            raise TypeError(f"{self.cls.__name__} takes {self.n} values, "
                            f"{len(values)} given")
        obj = self.new(self.cls)
        for i in range(self.n):
            slot = self.setters[i]
            setter = (<PyTypeObject*>Py_TYPE(slot)).tp_descr_set
            if setter(slot, obj, values[i]) < 0:
                raise TypeError(f"cannot set a field of {self.cls.__name__}")
        return obj


# -- the camt census over raw bytes (formats/iso20022/camt_census.py)

cdef enum:
    CENSUS_MORE = 0  # the bytes given are judged: give the next ones
    CENSUS_DONE = 1  # the statement counted has ended: `references` is complete
    CENSUS_UNSURE = 2  # something this scan does not judge: ask the Python scan


cdef inline bint _space(unsigned char c) noexcept nogil:
    return c == 32 or c == 9 or c == 10 or c == 13


cdef inline bint _name_end(unsigned char c) noexcept nogil:
    return _space(c) or c == 47 or c == 62 or c == 60  # / > <


cdef inline bint _named(const unsigned char* s, Py_ssize_t n, const char* name) noexcept nogil:
    return n == <Py_ssize_t>strlen(name) and memcmp(s, name, n) == 0


cdef class CensusScan:
    """The entry-level references of statement `number`, from the bytes after the message's
    start tag, for the plainest files only: no prefixes, no namespace declarations, no
    comments, CDATA or processing instructions, every tag whole and where the schema puts
    it. Anything else is CENSUS_UNSURE, and the Python scan (which knows more) decides.

    `feed` reads whole tags from a buffer (up to the last `<`, so none is cut) and keeps
    where it is between calls: the depth inside the message, the statements seen, whether
    the current entry's own reference was read. `references` gathers each entry's first
    non-empty reference (ASCII spaces stripped; raw UTF-8, which the caller decodes and
    strips).
    """

    cdef Py_ssize_t number
    cdef Py_ssize_t statements
    cdef Py_ssize_t depth  # elements open inside the message
    cdef bint target  # inside the statement counted
    cdef bint found  # the current entry's reference is read
    cdef public list references

    def __init__(self, Py_ssize_t number):
        self.number = number
        self.statements = self.depth = 0
        self.target = self.found = False
        self.references = []

    def feed(self, const unsigned char[::1] buf not None, Py_ssize_t pos, Py_ssize_t end):
        """(status, where it stopped) after judging the tags that start in `buf[pos:end]`;
        `end` is the position of a `<` (or the buffer's end) so that no tag is cut. With
        CENSUS_MORE, the bytes from where it stopped are to be given again with the next."""
        cdef Py_ssize_t i = pos, j, name_at, name_len, text_at
        cdef int status, kept
        cdef bint closing, empty
        cdef unsigned char c
        if end > buf.shape[0] or pos < 0:
            raise ValueError("positions outside the buffer")
        while True:
            i = _next_lt(buf, i, end)  # text: only a reference's text is wanted
            if i >= end:
                return CENSUS_MORE, end
            j = i + 1
            if j >= buf.shape[0]:
                return CENSUS_UNSURE, i
            c = buf[j]
            if c == 33 or c == 63:  # <! <?
                return CENSUS_UNSURE, i
            closing = c == 47
            if closing:
                j += 1
            name_at = j
            while j < buf.shape[0] and not _name_end(buf[j]):
                if buf[j] == 58:  # a prefix
                    return CENSUS_UNSURE, i
                j += 1
            name_len = j - name_at
            if name_len == 0 or (name_len >= 9 and memcmp(&buf[name_at], b"BkToCstmr", 9) == 0):
                return CENSUS_UNSURE, i  # no name, or a message inside the message
            j = _tag_end(buf, j, closing)
            if j < 0:
                return CENSUS_UNSURE, i
            empty = buf[j - 2] == 47  # "/>"
            i = j
            if closing:
                if self.depth == 0:
                    return CENSUS_UNSURE, i  # the message ends before the statement counted
                self.depth -= 1
                if self.target and self.depth == 0:
                    return CENSUS_DONE, i
                continue
            status = self._start(&buf[name_at], name_len, empty)
            if status == CENSUS_UNSURE:
                return CENSUS_UNSURE, name_at - 1
            if status == 3:  # a reference to read: its text runs to the next `<`
                text_at = i
                i = _next_lt(buf, i, end)
                if i >= end:  # its end tag is not in these bytes: read it again with more
                    self.depth -= 1
                    return CENSUS_MORE, name_at - 1
                if not _is_reference_end(buf, i):
                    return CENSUS_UNSURE, i  # markup inside the reference
                kept = self._reference(buf, text_at, i)
                if kept == CENSUS_UNSURE:
                    return CENSUS_UNSURE, i
                self.found = kept == 1
                j = _tag_end(buf, i + 2 + 11, True)
                if j < 0:
                    return CENSUS_UNSURE, i
                i = j
                self.depth -= 1

    cdef int _start(self, const unsigned char* name, Py_ssize_t n, bint empty) except -1:
        """Take a start tag at the current depth: 3 when it opens the current entry's
        reference, CENSUS_UNSURE where the schema puts no such element."""
        cdef bint statement = (_named(name, n, "Stmt") or _named(name, n, "Rpt")
                               or _named(name, n, "Ntfctn"))
        cdef Py_ssize_t level = self.depth
        if statement:
            if level != 0:
                return CENSUS_UNSURE
            self.statements += 1
            self.target = self.statements == self.number
            if empty and self.target:
                return CENSUS_UNSURE  # an empty statement counted: let the Python scan say
        elif self.target and _named(name, n, "Ntry"):
            if level != 1:
                return CENSUS_UNSURE  # an entry deeper down: lxml's rules skip it
            self.found = False
        if not empty:
            self.depth += 1
        if (self.target and level == 2 and not self.found and not empty
                and _named(name, n, "AcctSvcrRef")):
            return 3
        return 0

    cdef int _reference(self, const unsigned char[::1] buf, Py_ssize_t start,
                        Py_ssize_t stop) except -1:
        """Keep the reference in `buf[start:stop]` with its ASCII spaces stripped: 1 kept,
        0 empty, CENSUS_UNSURE where the parser would change its text. The caller strips
        other spaces and steps aside when nothing is left (the entry's next reference would
        count then)."""
        cdef Py_ssize_t k
        while start < stop and _space(buf[start]):
            start += 1
        while stop > start and _space(buf[stop - 1]):
            stop -= 1
        if start == stop:
            return 0
        for k in range(start, stop):
            if buf[k] == 38 or buf[k] == 13:  # & (the parser resolves it), \r (it folds it)
                return CENSUS_UNSURE
        self.references.append(bytes(buf[start:stop]))  # the caller strips the rest
        return 1


cdef Py_ssize_t _tag_end(const unsigned char[::1] buf, Py_ssize_t j, bint closing) noexcept:
    """The position after the `>` of the tag whose name ends at `j`, or -1 where its
    attributes are not plain `name="value"` pairs (no `<`, no namespace declaration)."""
    cdef Py_ssize_t n = buf.shape[0], at
    cdef unsigned char quote
    while True:
        while j < n and _space(buf[j]):
            j += 1
        if j >= n:
            return -1
        if buf[j] == 62:
            return j + 1
        if buf[j] == 47:
            return j + 2 if not closing and j + 1 < n and buf[j + 1] == 62 else -1
        if closing:
            return -1
        at = j  # an attribute's name
        while j < n and not _name_end(buf[j]) and buf[j] != 61:
            j += 1
        if j == at or (j - at >= 5 and memcmp(&buf[at], b"xmlns", 5) == 0):
            return -1
        while j < n and _space(buf[j]):
            j += 1
        if j >= n or buf[j] != 61:  # =
            return -1
        j += 1
        while j < n and _space(buf[j]):
            j += 1
        if j >= n or (buf[j] != 34 and buf[j] != 39):
            return -1
        quote = buf[j]
        j += 1
        while j < n and buf[j] != quote:
            if buf[j] == 60:
                return -1
            j += 1
        if j >= n:
            return -1
        j += 1


cdef inline Py_ssize_t _next_lt(const unsigned char[::1] buf, Py_ssize_t i,
                                Py_ssize_t end) noexcept:
    """The position of the next `<` in `buf[i:end]`, or `end`."""
    if i >= end:
        return end
    found = <const unsigned char*>memchr(&buf[i], 60, end - i)
    return end if found is NULL else found - &buf[0]


cdef inline bint _is_reference_end(const unsigned char[::1] buf, Py_ssize_t i) noexcept:
    return (i + 13 < buf.shape[0] and buf[i + 1] == 47
            and memcmp(&buf[i + 2], b"AcctSvcrRef", 11) == 0 and _name_end(buf[i + 13]))


# -- occurrence counts by fingerprint (formats/stream.py Occurrences)

cdef class FingerprintCounts:
    """How many times each 96-bit fingerprint was added: open addressing over two C arrays
    (12 bytes a slot, as the Python twin's two `array`s), at most 3/4 full; counts above 1
    live in a dict by fingerprint (few: twins and repeated references)."""

    cdef uint64_t* his  # never 0 in a used slot: 0 marks an empty one
    cdef uint32_t* los
    cdef Py_ssize_t size
    cdef Py_ssize_t used
    cdef dict repeats

    def __cinit__(self):
        self.size, self.used, self.repeats = 1 << 16, 0, {}
        self.his = <uint64_t*>calloc(self.size, sizeof(uint64_t))
        self.los = <uint32_t*>calloc(self.size, sizeof(uint32_t))
        if self.his is NULL or self.los is NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.his)
        free(self.los)

    def __len__(self):
        return self.used

    def add(self, const unsigned char[::1] digest not None, Py_ssize_t n=1):
        """Count `n` more of the fingerprint `digest` (12 bytes); its count now."""
        cdef uint64_t hi = 0
        cdef uint32_t lo = 0
        cdef int k
        if digest.shape[0] != 12:
            raise ValueError("a fingerprint is 12 bytes")
        for k in range(8):
            hi |= (<uint64_t>digest[k]) << (8 * k)
        for k in range(4):
            lo |= (<uint32_t>digest[8 + k]) << (8 * k)
        hi |= 1
        if (self.used + 1) * 4 > self.size * 3:
            self._grow()
        if self._put(hi, lo):
            if n > 1:
                self.repeats[(hi, lo)] = n
            return n
        count = self.repeats.get((hi, lo), 1) + n
        self.repeats[(hi, lo)] = count
        return count

    cdef bint _put(self, uint64_t hi, uint32_t lo) noexcept:
        """Put a fingerprint in the table; False when it was there already."""
        cdef Py_ssize_t mask = self.size - 1
        cdef Py_ssize_t i = <Py_ssize_t>(hi & <uint64_t>mask)
        while self.his[i] != 0:
            if self.his[i] == hi and self.los[i] == lo:
                return False
            i = (i + 1) & mask
        self.his[i], self.los[i] = hi, lo
        self.used += 1
        return True

    cdef int _grow(self) except -1:
        cdef uint64_t* old_his = self.his
        cdef uint32_t* old_los = self.los
        cdef Py_ssize_t old_size = self.size, i
        cdef uint64_t* his = <uint64_t*>calloc(old_size * 2, sizeof(uint64_t))
        cdef uint32_t* los = <uint32_t*>calloc(old_size * 2, sizeof(uint32_t))
        if his is NULL or los is NULL:
            free(his)
            free(los)
            raise MemoryError()
        self.his, self.los, self.size, self.used = his, los, old_size * 2, 0
        for i in range(old_size):
            if old_his[i] != 0:
                self._put(old_his[i], old_los[i])
        free(old_his)
        free(old_los)
        return 0
