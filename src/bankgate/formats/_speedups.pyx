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
from libc.stdlib cimport free, malloc
from libc.string cimport strcmp, strlen
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


cdef object _joined(tree.xmlNode* first):
    """The text of `first` and the text nodes right after it, as lxml's `.text` gives it."""
    cdef tree.xmlNode* node = first
    if not _is_text(node.next):
        return PyUnicode_DecodeUTF8(<const char*>node.content,
                                    strlen(<const char*>node.content), NULL)
    parts = []
    while _is_text(node):
        parts.append(PyUnicode_DecodeUTF8(<const char*>node.content,
                                          strlen(<const char*>node.content), NULL))
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
    if node.ns is NULL:
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
