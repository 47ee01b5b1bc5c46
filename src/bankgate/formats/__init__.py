"""Bank file formats: bytes ⇄ domain values, pure functions over streams (issue 4).

Readers build on `xml.py`'s hardened parser (no DTD, no entities, no network, size limit) and
raise `FormatError(origin, where, message)` naming the file and the place (line or XPath).
Today: camt.052 / camt.053 / camt.054 (`iso20022/camt.py`).
"""
