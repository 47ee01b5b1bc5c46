"""Unit of work: one database transaction exposing the repositories; commit or roll back."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bankgate.errors import StoreBusy
from bankgate.store.accounts import AccountRepository
from bankgate.store.alerts import AlertRepository
from bankgate.store.audit import AuditRepository
from bankgate.store.channels import NonceRepository
from bankgate.store.control import ControlRepository
from bankgate.store.files import TransferRepository
from bankgate.store.flows import FlowStore
from bankgate.store.idempotency import IdempotencyRepository
from bankgate.store.payments import BatchRepository, OrderRepository
from bankgate.store.queue import JobQueue
from bankgate.store.recon import LedgerRepository, ReconRepository
from bankgate.store.reports import ReportRepository
from bankgate.store.statements import (
    BalanceRepository,
    BankMessageRepository,
    StatementRepository,
)
from bankgate.store.sync import SyncRepository
from bankgate.store.unwritable import unwritable

__all__ = ["UnitOfWork"]


class UnitOfWork:
    """`with uow: ...; uow.commit()` — leaving the block without commit rolls back."""

    accounts: AccountRepository
    orders: OrderRepository
    batches: BatchRepository
    audit: AuditRepository
    jobs: JobQueue
    idempotency: IdempotencyRepository
    statements: StatementRepository
    balances: BalanceRepository
    messages: BankMessageRepository
    transfers: TransferRepository
    nonces: NonceRepository
    sync: SyncRepository
    recon: ReconRepository
    ledger: LedgerRepository
    reports: ReportRepository
    flows: FlowStore
    control: ControlRepository
    alerts: AlertRepository  # issue 5: alerts

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def __enter__(self) -> UnitOfWork:
        if self._conn is not None:
            raise RuntimeError("a UnitOfWork is not re-entrant; make a new one")
        try:
            conn = self._engine.connect()
        except PoolTimeout as exc:  # I-03: refused whole and said so, before anything is done
            pool = self._engine.pool
            raise StoreBusy(f"the store's connections are all in use ({pool.status()}); "
                            "nothing was done, try again shortly") from exc
        conn.begin()
        self._conn = conn
        self.accounts = AccountRepository(conn)
        self.orders = OrderRepository(conn)
        self.batches = BatchRepository(conn)
        self.audit = AuditRepository(conn)
        self.jobs = JobQueue(conn)
        self.idempotency = IdempotencyRepository(conn)
        self.statements = StatementRepository(conn)
        self.balances = BalanceRepository(conn)
        self.messages = BankMessageRepository(conn)
        self.transfers = TransferRepository(conn)
        self.nonces = NonceRepository(conn)
        self.sync, self.recon, self.ledger, self.reports = (
            SyncRepository(conn), ReconRepository(conn), LedgerRepository(conn),
            ReportRepository(conn))
        self.flows = FlowStore(conn)
        self.control = ControlRepository(conn)
        self.alerts = AlertRepository(conn)
        return self

    def commit(self) -> None:
        """Commit everything done in this unit."""
        assert self._conn is not None, "commit outside the with-block"
        self._conn.commit()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()
        full = unwritable(exc, str(self._engine.url)) if exc is not None else None
        if full is not None:  # I-06: say so, instead of an SQL error from deep down
            raise full from exc
