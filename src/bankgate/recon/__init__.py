"""The reconciliation engine (对账): pure matching of bank lines to open items.

Imports only `bankgate.domain`; no I/O. The values it exchanges live in `bankgate.domain.recon`.
"""
