"""The domain core: money, accounts, payment orders and their lifecycle, bank answers, statements.

Plain immutable values and pure functions. It imports nothing of bankgate outside itself
(only `bankgate.errors`, the shared leaf), does no I/O and knows no database, HTTP or bank.
"""

from bankgate.domain.bank_answers import (
    OUTCOME_STATUS,
    REASONS,
    Outcome,
    StatusReport,
    SubmissionAck,
)
from bankgate.domain.checks import Issue, check_statement
from bankgate.domain.errors import (
    CurrencyMismatch,
    IllegalTransition,
    InvalidAccountNumber,
    InvalidAmount,
    InvalidField,
    InvalidIdentifier,
    UnknownCurrency,
)
from bankgate.domain.ids import (
    AccountId,
    BatchId,
    InstructionId,
    OrderId,
    instruction_id,
    new_batch_id,
    new_instruction_id,
    new_order_id,
)
from bankgate.domain.lifecycle import NEXT, TERMINAL, Status, bank_path, is_terminal
from bankgate.domain.money import CURRENCIES, Currency, Money, currency, parse_amount
from bankgate.domain.parties import (
    AccountKind,
    AccountNumber,
    BankId,
    CompanyAccount,
    Payee,
    bank_id,
    clean_text,
    mask_numbers,
)
from bankgate.domain.payments import (
    Batch,
    BatchKey,
    BatchState,
    FlowType,
    PaymentOrder,
    advance,
    batch_key,
    new_payment_order,
)
from bankgate.domain.statements import (
    Balance,
    BalanceType,
    EntryKey,
    EntryStatus,
    Source,
    Statement,
    StatementEntry,
    composite_entry_key,
)

__all__ = [
    "CURRENCIES",
    "NEXT",
    "OUTCOME_STATUS",
    "REASONS",
    "TERMINAL",
    "AccountId",
    "AccountKind",
    "AccountNumber",
    "Balance",
    "BalanceType",
    "BankId",
    "Batch",
    "BatchId",
    "BatchKey",
    "BatchState",
    "CompanyAccount",
    "Currency",
    "CurrencyMismatch",
    "EntryKey",
    "EntryStatus",
    "FlowType",
    "IllegalTransition",
    "InstructionId",
    "InvalidAccountNumber",
    "InvalidAmount",
    "InvalidField",
    "InvalidIdentifier",
    "Issue",
    "Money",
    "OrderId",
    "Outcome",
    "Payee",
    "PaymentOrder",
    "Source",
    "Statement",
    "StatementEntry",
    "Status",
    "StatusReport",
    "SubmissionAck",
    "UnknownCurrency",
    "advance",
    "bank_id",
    "bank_path",
    "batch_key",
    "check_statement",
    "clean_text",
    "composite_entry_key",
    "currency",
    "instruction_id",
    "is_terminal",
    "mask_numbers",
    "new_batch_id",
    "new_instruction_id",
    "new_order_id",
    "new_payment_order",
    "parse_amount",
]
