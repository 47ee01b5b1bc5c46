"""Bank callbacks have one way in: the signed path (services/callbacks.py, A-01, A-02)."""

from __future__ import annotations

import pkgutil
from importlib import import_module
from inspect import getsource

import bankgate.services


def test_A01_only_the_signed_callback_service_reads_a_callback_body():
    readers = sorted(info.name for info in pkgutil.iter_modules(bankgate.services.__path__)
                     if "read_callback" in getsource(import_module(
                         f"bankgate.services.{info.name}")))
    assert readers == ["callbacks"], "a callback body read without its signature verified"
