"""Use cases: create and release payment orders, batch them, dispatch each batch exactly once,
follow every order to the bank's final word, fetch balances and statements.

Services are plain functions taking their dependencies as keyword arguments (`uow`, a unit
of work factory; `channels`; `now`, the clock). They import the domain, the store and the
channel protocol, never an interface.
"""
