"""The census of a long camt statement read from its raw bytes, without an XML parser.

`stream_camt` needs to know, before it streams a statement of more than its buffer, which
entry-level bank references (`Ntry/AcctSvcrRef`, not the ones in `NtryDtls/TxDtls/Refs`)
repeat in it. `scan_repeated_references` answers from a scan of the bytes with `re` and
`bytes` methods (C loops over 256 KiB chunks: constant memory, L-06) instead of a second
libxml2 parse, and gives the same set as the lxml census (`camt._census`) — or `None`,
"don't know", whenever the bytes hold anything it cannot judge with certainty: a comment,
CDATA or a processing instruction after the message's start tag, a namespace declared on
the statement, an entry or a reference, a `>` inside a watched tag's attribute, an encoding
other than UTF-8, a `&` or a line break inside a counted reference, a reference with child
elements, a prefix not declared, or a statement, entry or message element where the schema
does not put one. The caller then runs the lxml census, so an odd file costs time, never a
wrong key; a broken file is still refused by the main pass, which reads every byte with lxml.

What is looked at: the head up to the message element (`BkToCstmr*`) by a small exact
tokenizer (the namespaces in force); then only the tags named `Stmt`/`Rpt`/`Ntfctn` between
statements, `Ntry` in statements, and `AcctSvcrRef` inside the entries of the statement
counted, up to each entry's own. Depth, where it decides something (is this entry a child
of the statement, this reference a child of the entry), comes from counting: with no
comments, CDATA or processing instructions every `<` starts a tag, `</` an end tag, and
`/>` an empty one (once no stray `>` is about), so the elements left open between two points
are the `<` minus twice the `</` minus the `/>`. Inside an entry nothing else matters: the
elements opened there close there, and a nested entry or message would be seen.
"""

from __future__ import annotations

import re
from typing import IO, Final

from bankgate.formats.speedups import CENSUS_DONE, CENSUS_MORE, census_scanner
from bankgate.formats.stream import Occurrences
from bankgate.formats.xml import MAX_XML_BYTES

__all__ = ["scan_repeated_references"]

_CHUNK: Final = 1 << 18  # 256 KiB: the scan holds about two of them
#: Longer than this from one `<` to the next (a text node of megabytes): don't know.
_MAX_CARRY: Final = 4 << 20
#: The prolog and the elements around the message (`Document`, an envelope) before
#: `BkToCstmr*`: beyond this, don't know.
_MAX_HEAD: Final = 1 << 20
_MESSAGE: Final = b"BkToCstmr"
#: Where the scan is: in the message between statements, in a statement, in an entry.
_BETWEEN, _STATEMENT, _ENTRY = 0, 1, 2
_WATCHED: Final = frozenset({b"Stmt", b"Rpt", b"Ntfctn", b"Ntry"})
_STATEMENT_NAME: Final = re.compile(rb"(?:Stmt|Rpt|Ntfctn)(?=[\s/>])")
_ENTRY_NAME: Final = re.compile(rb"Ntry(?=[\s/>])")
_REFERENCE_NAME: Final = re.compile(rb"AcctSvcrRef(?=[\s/>])")
#: A tag of one of those names: its end mark, prefix and the rest (attributes, "/").
_STATEMENT_TAG: Final = re.compile(rb"<(/?)(?:([^\s<>/:]+):)?(?:Stmt|Rpt|Ntfctn)(?=[\s/>])"
                                   rb"([^<>]*)>")
_ENTRY_TAG: Final = re.compile(rb"<(/?)(?:([^\s<>/:]+):)?Ntry(?=[\s/>])([^<>]*)>")
_REFERENCE_TAG: Final = re.compile(rb"<(/?)(?:([^\s<>/:]+):)?AcctSvcrRef(?=[\s/>])([^<>]*)>")
_REFERENCE_END: Final = b"</AcctSvcrRef>"
_LT, _GT, _SLASH = b"<>/"
#: Comments, CDATA, processing instructions (anything `<!`, `<?`): don't know from there.
_ODD: Final = re.compile(rb"<[!?]")
_ANY_TAG: Final = re.compile(rb"<(/?)([^\s<>/!?]+)((?:\s+[^\s=<>/]+\s*=\s*(?:\"[^\"<]*\"|"
                             rb"'[^'<]*'))*)\s*(/?)>")
#: A watched tag's attributes as far as its first `>`: a value holding `>` fails.
_ATTRIBUTES: Final = re.compile(rb"""(?:\s+[^\s=<>/]+\s*=\s*(?:"[^"<>]*"|'[^'<>]*'))*\s*/?""")
_ATTRIBUTE: Final = re.compile(rb"""([^\s=<>/]+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')""")
_DECLARATION: Final = re.compile(rb"<\?xml(\s[^<>?]*)?\?>")
_ENCODING: Final = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")
_BOM: Final = b"\xef\xbb\xbf"
#: What the head may hold besides tags and text: comments, processing instructions.
_SKIPPED: Final = ((b"<!--", b"-->"), (b"<?", b"?>"))

#: Prefix (None: the default namespace) → namespace URI (b"": none).
_Scope = dict[bytes | None, bytes]


class _Unsure(Exception):
    """Something the scanner cannot judge with certainty: the lxml census decides."""


def scan_repeated_references(stream: IO[bytes], number: int, *, chunk: int = _CHUNK,
                             compiled: bool = True) -> frozenset[str] | None:
    """The bank references that repeat among the entries of statement `number` (1-based,
    counted as `stream_camt` counts them) of the camt file read from `stream`'s position;
    `None` when the bytes hold anything this scan cannot judge with certainty.

    Never raises for the file's content (a read error of the stream itself propagates).
    `chunk` is how many bytes are read at a time (small in tests, to cut everywhere).
    The plainest files are judged by the C census first (`_speedups.CensusScan`, when
    built and `compiled`); where it does not know, this scan starts again from there.
    """
    if compiled:
        start = stream.tell()
        found = _scan_in_c(stream, number, chunk)
        if found is not None:
            return found
        stream.seek(start)
    try:
        return _Scan(stream, number, chunk).run()
    except _Unsure:
        return None


def _scan_in_c(stream: IO[bytes], number: int, chunk: int) -> frozenset[str] | None:
    """The C census after this module's head: whole tags a chunk at a time, the references
    counted as they come (constant memory); None where it does not know."""
    kernel = census_scanner(number)
    if kernel is None:
        return None
    scan = _Scan(stream, number, chunk)
    try:
        pos = scan.head()
    except _Unsure:
        return None
    counts, repeated = Occurrences(), set()
    while True:
        cut = scan.buf.rfind(b"<")
        if cut <= pos:  # no whole tag yet
            if len(scan.buf) - pos > _MAX_CARRY or not _more(scan):
                return None
            continue
        status, stop = kernel.feed(scan.buf, pos, cut)
        try:
            for raw in kernel.references:
                text = raw.decode("utf-8").strip()
                if not text:
                    return None  # only spaces Python strips: the next one would count
                if counts.add(text) == 2:
                    repeated.add(text)
        except UnicodeDecodeError:
            return None
        kernel.references.clear()
        if status == CENSUS_DONE:
            return frozenset(repeated)
        if status != CENSUS_MORE or not _more(scan, keep=stop):
            return None  # it does not know, or the statement does not end
        if len(scan.buf) > _MAX_CARRY + chunk:
            return None  # a text of megabytes in a reference
        pos = 0


def _more(scan: _Scan, keep: int = 0) -> bool:
    """Drop what is judged (`buf[:keep]`) and read the next chunk; False at the end."""
    scan.buf = scan.buf[keep:]
    try:
        return scan.more()
    except _Unsure:  # past the size limit
        return False


class _Scan:
    """One scan: the bytes not yet judged (`buf`), where the scan is, what it is inside.

    `depth` counts the elements open inside the current container (the message between
    statements, the statement between entries, the entry) up to `accounted`; it is kept
    only where it decides something (not inside statements before the one counted).
    """

    def __init__(self, stream: IO[bytes], number: int, chunk: int) -> None:
        self.stream, self.number, self.chunk = stream, number, chunk
        self.buf = b""
        self.read_bytes = 0
        self.eof = False
        self.scope: _Scope = {}
        self.counts = Occurrences()
        self.repeated: set[str] = set()
        self.result: frozenset[str] | None = None
        self.inside = _BETWEEN
        self.at = self.accounted = self.depth = 0
        self.statements = 0
        self.target = False  # inside the statement counted
        self.found = False  # the current entry's reference is read (or not wanted)
        self.namespace = b""  # of the statement counted

    def more(self) -> bool:
        """Append the next chunk to `buf`; False at the end of the stream."""
        if self.eof:
            return False
        chunk = self.stream.read(self.chunk)
        if not chunk:
            self.eof = True
            return False
        self.read_bytes += len(chunk)
        if self.read_bytes > MAX_XML_BYTES:
            raise _Unsure  # the parser refuses the file there
        self.buf += chunk
        return True

    def run(self) -> frozenset[str]:
        start = self.head()
        self.buf = self.buf[start:]
        steps = (self.between, self.in_statement, self.in_entry)
        while True:
            cut = self.cut()
            odd = _ODD.search(self.buf, 0, cut)
            limit = odd.start() if odd is not None else cut
            message = self.buf.find(_MESSAGE, 0, limit)  # a nested or second message
            if message >= 0:
                limit = max(self.buf.rfind(b"<", 0, message), 0)
            stop: int | None = None
            while stop is None:
                stop = steps[self.inside](limit)
                if self.result is not None:
                    return self.result
            if limit < cut:
                raise _Unsure
            self.buf = self.buf[stop:]
            self.at, self.accounted = max(self.at - stop, 0), 0
            if not self.more():
                raise _Unsure  # the statement does not end: the parser will say why

    def cut(self) -> int:
        """Where the bytes judged now end: at the last `<` (all tags before it are whole)."""
        while True:
            cut = self.buf.rfind(b"<")
            if cut > 0:
                return cut
            if len(self.buf) > _MAX_CARRY or not self.more():
                raise _Unsure

    def account(self, upto: int) -> None:
        """Bring `depth` up to `upto` (a tag's start or the end of the bytes judged)."""
        if upto > self.accounted:
            self.depth += _opened(self.buf, self.accounted, upto)
            self.accounted = upto

    def moved(self, end: int, inside: int) -> None:
        """Past a tag (ending at `end`) that opens or closes a container: depth 0 inside
        the next one."""
        self.at = self.accounted = end
        self.depth, self.inside = 0, inside

    def between(self, limit: int) -> int | None:
        """In the message between statements: the next statement's start tag."""
        while True:
            tag = _next_tag(self.buf, _STATEMENT_NAME, _STATEMENT_TAG, self.at, limit)
            if tag is None:
                self.account(limit)
                self.at = limit
                return limit
            start, end, closing, prefix, rest = tag
            self.account(start)
            if closing or self.depth:
                raise _Unsure  # not a child of the message: lxml's rules skip it
            self.statements += 1
            self.target = self.statements == self.number
            if rest.endswith(b"/"):
                self.at = self.accounted = end
                if self.target:
                    self.result = frozenset()
                    return 0
                continue
            if self.target:
                self.namespace = self.resolve(prefix, rest)
            self.moved(end, _STATEMENT)
            return None

    def in_statement(self, limit: int) -> int | None:
        """In a statement between entries: the next entry, or the statement's end."""
        buf = self.buf
        while True:
            entry = _ENTRY_NAME.search(buf, self.at, limit)
            gap_end = entry.start() if entry is not None else limit
            tag = _next_tag(buf, _STATEMENT_NAME, _STATEMENT_TAG, self.at, gap_end) \
                if gap_end > self.at else None  # entries follow each other: mostly no gap
            if tag is not None:  # the statement's end (a start would be one inside it)
                _end_tag(tag)
                if self.target:
                    self.account(tag[0])
                    if self.depth:
                        raise _Unsure
                    self.result = frozenset(self.repeated)
                    return 0
                self.moved(tag[1], _BETWEEN)
                return None
            if entry is None:
                if self.target:
                    self.account(limit)
                self.at = limit
                return limit
            tag = _tag_at(buf, entry, _ENTRY_TAG)
            if tag is None:
                self.at = max(self.at, entry.end())
                continue
            start, end, closing, _, rest = tag
            if closing:
                raise _Unsure
            if self.target:
                if start > self.accounted:
                    self.account(start)
                if self.depth or b"xmlns" in rest:
                    raise _Unsure  # an entry deeper down (lxml skips it), or a new scope
            if rest.endswith(b"/"):
                self.at = self.accounted = end
                continue
            self.at = self.accounted = end
            self.depth, self.inside, self.found = 0, _ENTRY, not self.target
            stop = self.in_entry(limit)  # called from here, not from `run`: one call less
            if stop is not None:
                return stop

    def in_entry(self, limit: int) -> int | None:
        """In an entry: its own reference (in the statement counted), then its end."""
        buf = self.buf
        while True:
            entry = _ENTRY_NAME.search(buf, self.at, limit)
            if not self.found:
                stop = self.references(entry.start() if entry is not None else limit, limit)
                if stop is not None:
                    return stop
            if entry is None:
                if not self.found:
                    self.account(limit)
                self.at = limit
                return limit
            tag = _tag_at(buf, entry, _ENTRY_TAG)
            if tag is None:  # the word in text, maybe in a reference already read
                self.at = max(self.at, entry.end())
                continue
            if not tag[2] or tag[4]:  # a start tag: an entry inside the entry
                _end_tag(tag)
            self.at = self.accounted = tag[1]
            self.depth, self.inside = 0, _STATEMENT
            return None

    def references(self, end: int, limit: int) -> int | None:
        """The `AcctSvcrRef` elements in `buf[at:end]`: the entry's own (a child in the
        statement's namespace) is counted; where to carry on if one runs past `limit`."""
        buf, search = self.buf, _REFERENCE_NAME.search
        while True:
            hit = search(buf, self.at, end)
            if hit is None:
                self.at = max(self.at, end)
                return None
            tag = _tag_at(buf, hit, _REFERENCE_TAG)
            if tag is None:
                self.at = hit.end()
                continue
            start, self.at, closing, prefix, rest = tag
            self.account(start)
            self.accounted = self.at
            if closing:
                _end_tag(tag)
                self.depth -= 1
                continue
            if rest.endswith(b"/"):
                continue
            own = not self.depth and self.resolve(prefix, rest) == self.namespace
            after = buf.find(b"<", self.at, limit)
            if after < 0:  # its text runs on into the next chunk
                self.at = self.accounted = start
                return start
            close = _closing_reference(buf, after, prefix)
            if close < 0:
                if own:
                    raise _Unsure  # markup inside the reference
                self.depth += 1
                continue
            text = buf[self.at:after]
            self.at = self.accounted = close
            if own and self.count(text):
                self.found = True
                return None

    def resolve(self, prefix: bytes | None, rest: bytes) -> bytes:
        """The namespace of a tag of the statement counted, its entries or their references."""
        found = self.scope.get(prefix)
        if found is None or b"xmlns" in rest:
            raise _Unsure  # an undeclared prefix (the parser refuses it), or a new scope
        return found

    def count(self, raw: bytes) -> bool:
        """Count one entry's reference as `entry_reference` reads it; False if it is empty."""
        if b"&" in raw:
            raise _Unsure  # an entity or character reference: the parser's to resolve
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise _Unsure from None
        if "\r" in text:
            raise _Unsure  # the parser turns line ends into "\n"
        if not text:
            return False
        if self.counts.add(text) == 2:
            self.repeated.add(text)
        return True

    def head(self) -> int:
        """Read up to the message's start tag (`BkToCstmr*`) with a small exact tokenizer:
        the namespaces in force there; where the scan of the message starts."""
        while len(self.buf) < 1024 and self.more():
            pass
        pos = len(_BOM) if self.buf.startswith(_BOM) else 0
        declaration = _DECLARATION.match(self.buf, pos)
        if declaration is not None:
            encoding = _ENCODING.search(declaration.group(0))
            if encoding is not None and encoding.group(1).lower() != b"utf-8":
                raise _Unsure
            pos = declaration.end()
        elif self.buf.startswith(b"<?xml", pos):
            raise _Unsure
        scopes: list[tuple[bytes, _Scope]] = []
        scope: _Scope = {None: b""}
        while True:
            tag = self.next_tag(pos)
            closing, name, attributes, empty = tag.groups()
            if closing:
                if attributes or empty or not scopes or scopes[-1][0] != name:
                    raise _Unsure
                scopes.pop()
                scope = scopes[-1][1] if scopes else {None: b""}
                pos = tag.end()
                continue
            inner = _declared(scope, attributes)
            prefix, _, local = name.rpartition(b":")
            if b":" in prefix or (prefix or None) not in inner:
                raise _Unsure
            if local in _WATCHED:
                raise _Unsure  # before the message: lxml's rules would still look at it
            if local.startswith(_MESSAGE):
                if empty:
                    raise _Unsure
                self.scope = inner
                return tag.end()
            if not empty:
                scopes.append((name, inner))
                scope = inner
            pos = tag.end()

    def next_tag(self, pos: int) -> re.Match[bytes]:
        """The next tag from `pos` in the head, past text (no `<`), comments and processing
        instructions (which the parser drops too)."""
        while True:
            if pos > _MAX_HEAD:
                raise _Unsure
            at = self.buf.find(b"<", pos)
            if at >= 0:
                tag = _ANY_TAG.match(self.buf, at)
                if tag is not None:
                    return tag
                closer = next((c for o, c in _SKIPPED if self.buf.startswith(o, at)), b"")
                if not closer and self.buf.find(b">", at) >= 0:
                    raise _Unsure  # a DOCTYPE, CDATA...
                end = self.buf.find(closer, at + 2) if closer else -1
                if end >= 0:
                    pos = end + len(closer)
                    continue
            if not self.more():
                raise _Unsure


def _opened(buf: bytes, start: int, end: int) -> int:
    """Elements opened minus elements closed in `buf[start:end]`, which holds whole tags and
    no comments, CDATA or processing instructions: every `<` starts a tag, `</` an end tag,
    and `/>` ends an empty one once no `>` stands outside a tag's end."""
    lt = buf.count(b"<", start, end)
    if not lt:
        return 0
    ends = buf.count(b"</", start, end)
    empty = buf.count(b"/>", start, end)
    if empty and buf.count(b">", start, end) != lt:
        raise _Unsure  # a ">" in text or in an attribute value: "/>" could be either
    return lt - 2 * ends - empty


#: A watched tag: start, end, is an end tag, prefix, the rest (attributes, "/").
_Tag = tuple[int, int, bool, bytes | None, bytes]


def _next_tag(buf: bytes, name: re.Pattern[bytes], tag: re.Pattern[bytes], start: int,
              end: int) -> _Tag | None:
    """The first tag named by `name` in `buf[start:end]` (not its word in text)."""
    while True:
        hit = name.search(buf, start, end)
        if hit is None:
            return None
        found = _tag_at(buf, hit, tag)
        if found is not None:
            return found
        start = hit.end()


def _tag_at(buf: bytes, hit: re.Match[bytes], tag: re.Pattern[bytes]) -> _Tag | None:
    """The tag whose name is `hit`, if `hit` is a tag's name (not text or an attribute).

    `<Name>` and `</Name>` are read from their bytes (every `<` starts a tag here), the
    other forms by `tag`.
    """
    first, last = hit.span()
    if buf[last] == _GT:
        if first >= 1 and buf[first - 1] == _LT:
            return first - 1, last + 1, False, None, b""
        if first >= 2 and buf[first - 2] == _LT and buf[first - 1] == _SLASH:
            return first - 2, last + 1, True, None, b""
    found = tag.match(buf, buf.rfind(b"<", 0, first))
    if found is None or found.start(3) != last:
        return None
    closing, prefix, rest = found.groups()
    if len(rest) > 1 and _ATTRIBUTES.fullmatch(rest) is None:
        raise _Unsure  # a ">" in an attribute value: the tag does not end where it seems
    return found.start(), found.end(), bool(closing), prefix, rest


def _end_tag(tag: _Tag) -> None:
    """Refuse a start tag where only an end tag can be (or an end tag with attributes)."""
    if not tag[2] or tag[4].strip():
        raise _Unsure


def _closing_reference(buf: bytes, at: int, prefix: bytes | None) -> int:
    """The end of the `AcctSvcrRef` end tag (with `prefix`) at `at`, or -1 if another tag
    is there."""
    if prefix is None and buf.startswith(_REFERENCE_END, at):
        return at + len(_REFERENCE_END)
    close = _REFERENCE_TAG.match(buf, at)
    if close is None or not close.group(1) or close.group(2) != prefix:
        return -1
    if close.group(3).strip():
        raise _Unsure
    return close.end()


def _declared(scope: _Scope, attributes: bytes) -> _Scope:
    """`scope` with the namespace declarations among a start tag's `attributes`."""
    if b"xmlns" not in attributes:
        return scope
    inner = dict(scope)
    for name, double, single in _ATTRIBUTE.findall(attributes):
        value = double or single
        if name == b"xmlns":
            inner[None] = value
        elif name.startswith(b"xmlns:"):
            if not value or b":" in name[6:]:
                raise _Unsure
            inner[name[6:]] = value
        else:
            continue
        if b"&" in value:
            raise _Unsure
    return inner
