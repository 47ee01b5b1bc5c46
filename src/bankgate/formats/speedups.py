"""Hot steps of the statement readers, in C when compiled, in Python otherwise.

- `pull_values(element, plan, namespace)`: the fields a `Plan` names in an element's
  subtree, as a list with one slot per field.
- `maker(cls, names)`: a constructor of a frozen slots dataclass from values in a stated
  order.
- `census_scanner(number)` and `fingerprint_counts()`: the C census of plain camt files and
  the C occurrence table (None without the C half; their callers then use their own
  Python code, `camt_census._Scan` and `stream.Occurrences`'s arrays).

`formats/_speedups.pyx` is built with the package when Cython and a C compiler are at hand
(`pip install -e .` does it; `COMPILED` says whether it was). Without it the Python twins
below give the same values; the camt stream then takes ~2.3× the time (84.5 against 37.4 µs
an entry, docs/benchmarks.md). The tests run both over every sample and over generated files
and compare; `BANKGATE_PURE_PYTHON=1` makes the readers use the twins.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from lxml import etree

__all__ = ["AMOUNT", "CENSUS_DONE", "CENSUS_MORE", "COMPILED", "NONE", "RECORD", "TEXTS",
           "Plan", "Want", "census_scanner", "fingerprint_counts", "maker",
           "plan_of", "pull_values", "python_maker", "python_pull_values"]

T = TypeVar("T")

#: What a wanted element gives besides its text: nothing, its amount (stripped text and
#: `Ccy` attribute, the first one only), every non-empty text, or a record per element.
NONE: Final = 0
AMOUNT: Final = 1
TEXTS: Final = 2
RECORD: Final = 3
#: What the C census says after a `feed`: give more bytes, or the statement has ended
#: (anything else: it does not know).
CENSUS_MORE: Final = 0
CENSUS_DONE: Final = 1


@dataclass(frozen=True, slots=True)
class Want:
    """One wanted child element, by local name."""

    name: str
    text: int  # the slot of its first non-empty stripped text, or -1
    kind: int  # NONE, AMOUNT, TEXTS or RECORD
    slot: int  # the slot of what `kind` gathers, or -1
    record: Plan | None  # RECORD: the plan of each such element's own values
    deeper: tuple[Want, ...]  # its own wanted children, filling the same slots


@dataclass(frozen=True, slots=True)
class Plan:
    """The wanted elements of a record and how many slots its values have."""

    wants: tuple[Want, ...]
    size: int


def plan_of(fields: tuple[tuple[str, int], ...],
            records: dict[str, Plan] | None = None) -> Plan:
    """The Plan of `fields`: (local-name path, kind) pairs whose index is their slot.

    A path of kind NONE gives its text; RECORD paths take their plan from `records`.
    """
    tree: dict[str, Any] = {}
    for slot, (path, kind) in enumerate(fields):
        node = tree
        *above, last = path.split("/")
        for step in above:
            node = node.setdefault(step, {"text": -1, "kind": NONE, "slot": -1, "in": {}})["in"]
        leaf = node.setdefault(last, {"text": -1, "kind": NONE, "slot": -1, "in": {}})
        if kind == NONE:
            leaf["text"] = slot
        else:
            leaf["kind"], leaf["slot"] = kind, slot
            leaf["record"] = (records or {})[path] if kind == RECORD else None
    return Plan(_wants(tree), len(fields))


def _wants(tree: dict[str, Any]) -> tuple[Want, ...]:
    return tuple(Want(name, node["text"], node["kind"], node["slot"], node.get("record"),
                      _wants(node["in"])) for name, node in tree.items())


# -- the Python twins

def python_pull_values(element: etree._Element, plan: Plan,
                       namespace: bytes | None) -> list[Any]:
    """`pull_values` in Python, whether or not the C half is built."""
    out: list[Any] = [None] * plan.size
    _py_walk(element, _qualified(plan.wants, namespace), out)
    return out


#: Held with their wants, so an id stays theirs.
_QUALIFIED: dict[tuple[int, bytes | None],
                 tuple[tuple[Want, ...], dict[str, tuple[Want, Any]]]] = {}


def _qualified(wants: tuple[Want, ...], namespace: bytes | None
               ) -> dict[str, tuple[Want, Any]]:
    """Wants by qualified tag ("{urn:...}Amt"), with their children's, once per namespace."""
    key = (id(wants), namespace)
    found = _QUALIFIED.get(key)
    if found is None:
        prefix = "{" + namespace.decode() + "}" if namespace is not None else ""
        found = _QUALIFIED[key] = (wants, {
            prefix + w.name: (w, _qualified(w.deeper, namespace) if w.deeper else None)
            for w in wants})
    return found[1]


def _py_text(element: etree._Element) -> str | None:
    text = element.text
    return (text.strip() or None) if text else None


def _py_walk(node: etree._Element, wanted: dict[str, tuple[Want, Any]],
             out: list[Any]) -> None:
    for child in node:
        found = wanted.get(child.tag)
        if found is None:
            continue
        want, deeper = found
        if want.text >= 0 and out[want.text] is None:
            out[want.text] = _py_text(child)
        if want.kind == AMOUNT:
            if out[want.slot] is None:
                out[want.slot] = (_py_text(child) or "", child.get("Ccy") or "")
        elif want.kind != NONE:
            if out[want.slot] is None:
                out[want.slot] = []
            if want.kind == TEXTS:
                text = _py_text(child)
                if text is not None:
                    out[want.slot].append(text)
            else:
                assert want.record is not None  # plan_of sets it for every RECORD
                out[want.slot].append(python_pull_values(child, want.record,
                                                         _namespace_of(child)))
        if deeper is not None:
            _py_walk(child, deeper, out)


def _namespace_of(element: etree._Element) -> bytes | None:
    tag = str(element.tag)
    return tag[1:tag.index("}")].encode() if tag.startswith("{") else None


class _PyMaker:
    """`maker`'s constructor in Python: the same slot setters the C one calls (2.1 against
    4.5 µs for a StatementEntry by keyword)."""

    def __init__(self, cls: type[Any], names: tuple[str, ...]) -> None:
        self.cls = cls
        self.setters = tuple(cls.__dict__[name].__set__ for name in names)

    def __call__(self, *values: object) -> Any:
        if len(values) != len(self.setters):
            raise TypeError(f"{self.cls.__name__} takes {len(self.setters)} values, "
                            f"{len(values)} given")
        made = object.__new__(self.cls)
        for setter, value in zip(self.setters, values, strict=True):
            setter(made, value)
        return made


# -- the choice

def _compiled() -> Any:
    if os.environ.get("BANKGATE_PURE_PYTHON"):
        return None
    try:
        from bankgate.formats import _speedups  # type: ignore[attr-defined]
    except (ImportError, ValueError, RuntimeWarning):  # not built, or built for another lxml
        return None
    # It reads lxml's element structure: only the lxml it was compiled against will do.
    return _speedups if _speedups.LXML_VERSION == etree.__version__ else None


_C: Final = _compiled()
COMPILED: Final = _C is not None
_PLANS: dict[int, tuple[Plan, Any]] = {}  # the plan is held, so its id stays its own


def pull_values(element: etree._Element, plan: Plan, namespace: bytes | None) -> list[Any]:
    """The values `plan` names in `element`'s subtree, for elements in `namespace` (the URI
    as bytes; None for elements in no namespace), one slot per field:

    a NONE field gives its first non-empty stripped text or None; AMOUNT the first such
    element's (stripped text or "", `Ccy` or ""); TEXTS a list of the non-empty stripped
    texts; RECORD a list of value lists, one per element. A field absent is None.
    """
    if _C is None:
        return python_pull_values(element, plan, namespace)
    found = _PLANS.get(id(plan))
    if found is None:
        found = _PLANS[id(plan)] = (plan, _C.compile_plan(plan.wants, plan.size))
    result: list[Any] = _C.pull(element, found[1], namespace)
    return result


def census_scanner(number: int) -> Any | None:
    """The C census of statement `number`'s references (`camt_census`), None when the C
    half is not built: `feed(buf, pos, end)` → (status, where), `references` found so far.
    """
    return _C.CensusScan(number) if _C is not None else None


def fingerprint_counts() -> Any | None:
    """A C table of occurrence counts by 96-bit fingerprint (`stream.Occurrences`), None
    when the C half is not built: `add(digest12, n=1)` → the count now; `len()`."""
    return _C.FingerprintCounts() if _C is not None else None


def maker(cls: type[T], names: tuple[str, ...]) -> Callable[..., T]:
    """A constructor of `cls` from values in the order of `names` (every field, once).

    Raises:
        TypeError: `cls` is not a slots dataclass, has a `__post_init__` (whose checks the
            C maker would skip), or `names` are not exactly its fields.
    """
    _check_makeable(cls, names)
    made: Callable[..., T] = _C.Maker(cls, names) if _C is not None else _PyMaker(cls, names)
    return made


def python_maker(cls: type[T], names: tuple[str, ...]) -> Callable[..., T]:
    """`maker` in Python, whether or not the C half is built."""
    _check_makeable(cls, names)
    made: Callable[..., T] = _PyMaker(cls, names)
    return made


def _check_makeable(cls: type[Any], names: tuple[str, ...]) -> None:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{getattr(cls, '__name__', cls)!r} is not a dataclass")
    fields = {f.name for f in dataclasses.fields(cls)}
    if set(names) != fields or len(names) != len(fields):
        raise TypeError(f"{cls.__name__}: names must be its fields {sorted(fields)}, once")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} checks its values in __post_init__; build it whole")
    if any(type(cls.__dict__.get(name)).__name__ != "member_descriptor" for name in names):
        raise TypeError(f"{cls.__name__} is not a slots dataclass")
