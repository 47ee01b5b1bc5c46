"""Lines and items as columns: the engine's bulk input (one list per field, one row per record).

A million frozen dataclasses cost more to build and read than the whole matching run, so the
engine works on columns; `match()` converts the dataclass API, and bulk callers (the store, the
benchmark) fill the columns directly. Dates are proleptic ordinals (`date.toordinal()`).
The lists are owned by the engine once passed in: it does not change them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bankgate.domain.errors import InvalidField
from bankgate.domain.recon import BankLine, LineStatus, OpenItem

__all__ = ["ItemColumns", "LineColumns", "item_columns", "line_columns"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LineColumns:
    """Bank lines, one list per field, all of the same length."""

    id: list[str]
    account: list[str]
    amount: list[int]  # signed minor units
    currency: list[str]
    day: list[int]  # effective (value, else booking) date as an ordinal
    booked: list[bool]
    end_to_end_id: list[str | None]
    instruction_id: list[str | None]
    counterparty_name: list[str | None]
    counterparty_account: list[str | None]
    remittance: list[str | None]
    # The reference keys of each remittance as stored at import (`domain.recon_keys`); a row
    # None, or the whole column None, is extracted from `remittance` by the run.
    remittance_keys: list[tuple[str, ...] | None] | None = None

    def __post_init__(self) -> None:
        _same_lengths("lines", self.id, self.account, self.amount, self.currency, self.day,
                      self.booked, self.end_to_end_id, self.instruction_id,
                      self.counterparty_name, self.counterparty_account, self.remittance,
                      *(() if self.remittance_keys is None else (self.remittance_keys,)))

    def __len__(self) -> int:
        return len(self.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemColumns:
    """Open items, one list per field, all of the same length."""

    id: list[str]
    account: list[str]
    amount: list[int]  # signed minor units, the whole expected amount
    open_amount: list[int]  # what is still open
    currency: list[str]
    day: list[int]  # expected date as an ordinal
    end_to_end_id: list[str | None]
    instruction_id: list[str | None]
    batch_id: list[str | None]
    counterparty_name: list[str | None]
    counterparty_account: list[str | None]
    references: list[tuple[str, ...]]
    # The keys of each reference as stored when the item was created (`domain.recon_keys.
    # item_keys`: one tuple per reference); None as for `LineColumns.remittance_keys`.
    reference_keys: list[tuple[tuple[str, ...], ...] | None] | None = None

    def __post_init__(self) -> None:
        _same_lengths("items", self.id, self.account, self.amount, self.open_amount,
                      self.currency, self.day, self.end_to_end_id, self.instruction_id,
                      self.batch_id, self.counterparty_name, self.counterparty_account,
                      self.references,
                      *(() if self.reference_keys is None else (self.reference_keys,)))

    def __len__(self) -> int:
        return len(self.id)


def _same_lengths(what: str, *columns: Sequence[object]) -> None:
    lengths = {len(column) for column in columns}
    if len(lengths) > 1:
        raise InvalidField(f"{what}: columns differ in length ({sorted(lengths)})")


def line_columns(lines: Sequence[BankLine]) -> LineColumns:
    """The columns of these lines, in their order."""
    return LineColumns(
        id=[x.id for x in lines],
        account=[x.account_id for x in lines],
        amount=[x.amount_minor for x in lines],
        currency=[x.currency for x in lines],
        day=[x.effective_date.toordinal() for x in lines],
        booked=[x.status is LineStatus.BOOKED for x in lines],
        end_to_end_id=[x.end_to_end_id for x in lines],
        instruction_id=[x.instruction_id for x in lines],
        counterparty_name=[x.counterparty_name for x in lines],
        counterparty_account=[x.counterparty_account for x in lines],
        remittance=[x.remittance for x in lines],
        remittance_keys=[x.remittance_keys for x in lines],
    )


def item_columns(items: Sequence[OpenItem]) -> ItemColumns:
    """The columns of these items, in their order."""
    return ItemColumns(
        id=[x.id for x in items],
        account=[x.account_id for x in items],
        amount=[x.amount_minor for x in items],
        open_amount=[x.open_amount_minor for x in items],
        currency=[x.currency for x in items],
        day=[x.expected_date.toordinal() for x in items],
        end_to_end_id=[x.end_to_end_id for x in items],
        instruction_id=[x.instruction_id for x in items],
        batch_id=[x.batch_id for x in items],
        counterparty_name=[x.counterparty_name for x in items],
        counterparty_account=[x.counterparty_account for x in items],
        references=[x.references for x in items],
        reference_keys=[x.reference_keys for x in items],
    )
