"""The one exception tree of bankgate.

    BankgateError
    ├── DomainError (ValueError)        input that breaks a rule of the domain
    │   ├── InvalidAmount, UnknownCurrency, CurrencyMismatch
    │   ├── InvalidAccountNumber, InvalidIdentifier, InvalidField
    │   └── IllegalTransition
    ├── FormatError                     a file or message that cannot be read (origin, where)
    ├── ChannelError                    a bank channel could not do what was asked
    │   ├── BankRejected                the bank said no; retrying will not help
    │   ├── BankUnavailable             nothing reached the bank; safe to retry
    │   │   └── CertificateExpired      our certificate for the bank expired: refused before send
    │   ├── OutcomeUnknown              it may have reached the bank; ask with status()
    │   ├── Unsupported                 the channel lacks that capability
    │   └── CallbackMismatch            a bank's signed word on an order contradicts the order
    ├── StoreError                      the store refused or lost a race
    │   ├── StoreUnwritable             disk full or read-only: nothing committed (I-06)
    │   ├── StoreBusy                   every connection of the pool in use: try again (I-03)
    │   ├── NotFound
    │   ├── ConcurrentUpdate            a version compare-and-set failed
    │   └── IdempotencyConflict         an Idempotency-Key reused with another request
    ├── ConfigError                     settings or channel configuration that cannot be used
    ├── SecurityError                   a control refused: signature, certificate, token, login
    │   ├── SignatureInvalid            a signature that does not verify (or is missing)
    │   ├── CertificateRefused          expired, not yet valid, untrusted or revoked
    │   ├── TokenError                  the signing token is absent, locked or the PIN is wrong
    │   ├── ReplayRefused               a nonce seen before, or a timestamp outside the window
    │   ├── AuthenticationFailed        unknown user, wrong password or second factor, locked
    │   └── PermissionDenied            the actor's role or scope does not allow the action
    └── PolicyError                     a policy that cannot be loaded, or a duty it forbids
        └── DutyConflict                segregation of duties: maker = approver, own account

Each layer raises its own family; foreign exceptions are translated at the boundary with
``raise ... from exc``. Only the outermost edges (CLI, API, worker loop) catch everything.
"""

from __future__ import annotations


class BankgateError(Exception):
    """Root of every error bankgate raises on purpose."""

    code: str = "bankgate_error"


class DomainError(BankgateError, ValueError):
    """Input that breaks a rule of the domain."""

    code = "invalid_input"


class FormatError(BankgateError):
    """A file or message that cannot be read; says which file and where inside it."""

    code = "format_error"

    def __init__(self, origin: str, where: str, message: str) -> None:
        self.origin = origin
        self.where = where
        self.message = message
        place = f"{origin}:{where}" if where else origin
        super().__init__(f"{place}: {message}")


class ChannelError(BankgateError):
    """A bank channel could not do what was asked."""

    code = "channel_error"

    def __init__(self, message: str, *, bank_code: str = "", raw: bytes = b"",
                 retry_after: str | None = None) -> None:
        self.message = message
        self.bank_code = bank_code
        self.raw = raw
        self.retry_after = retry_after  # the bank's Retry-After, when it sent one
        super().__init__(message)


class BankRejected(ChannelError):
    """The bank answered no. Retrying the same request will not help."""

    code = "bank_rejected"


class BankUnavailable(ChannelError):
    """Nothing reached the bank (connect failed, refused before booking). Safe to retry."""

    code = "bank_unavailable"


class CertificateExpired(BankUnavailable):
    """Our own certificate for a bank has expired: the request was refused before it was sent
    (I-10). Retrying helps only after the certificate is renewed."""

    code = "certificate_expired"

    def __init__(self, message: str, *, subject: str, expired_on: str) -> None:
        self.subject = subject  # "icbc client certificate client.pem"
        self.expired_on = expired_on  # ISO date
        super().__init__(message)


class OutcomeUnknown(ChannelError):
    """The request may have reached the bank. Ask with status(); never resend blindly."""

    code = "outcome_unknown"


class Unsupported(ChannelError):
    """The channel does not offer this capability."""

    code = "unsupported"


class CallbackMismatch(ChannelError):
    """A validly signed callback names our order with another amount or payee (B-12)."""

    code = "callback_mismatch"


class StoreError(BankgateError):
    """The store refused an operation or lost a race."""

    code = "store_error"


class StoreUnwritable(StoreError):
    """The store refused to write: full disk, or read-only. Nothing of the work committed."""

    code = "store_unwritable"


class StoreBusy(StoreError):
    """No store connection came free in time; nothing was done, the same call may be retried."""

    code = "store_busy"


class NotFound(StoreError):
    """No such record (or not visible to the caller)."""

    code = "not_found"


class ConcurrentUpdate(StoreError):
    """A version compare-and-set failed: someone else changed the record first."""

    code = "conflict"


class IdempotencyConflict(StoreError):
    """An Idempotency-Key was reused with a different request body."""

    code = "idempotency_conflict"


class ConfigError(BankgateError):
    """Settings or channel configuration that cannot be used."""

    code = "config_error"


class SecurityError(BankgateError):
    """A security control refused the operation; the message never carries a secret."""

    code = "security_error"


class SignatureInvalid(SecurityError):
    """A signature that does not verify, or one that is missing where it is required."""

    code = "signature_invalid"


class CertificateRefused(SecurityError):
    """A certificate that is expired, not yet valid, untrusted or revoked."""

    code = "certificate_refused"


class TokenError(SecurityError):
    """The signing token (USB Key) is absent, locked, or the PIN was wrong."""

    code = "token_error"


class ReplayRefused(SecurityError):
    """A request whose nonce was seen before or whose timestamp is outside the window."""

    code = "replay_refused"


class AuthenticationFailed(SecurityError):
    """Unknown user or key, wrong password or second factor, or a locked credential."""

    code = "authentication_failed"


class PermissionDenied(SecurityError):
    """The actor's role or the API key's scope does not allow this action."""

    code = "permission_denied"


class PolicyError(BankgateError):
    """A policy file that cannot be loaded, or an action the policy in force forbids."""

    code = "policy_error"


class DutyConflict(PolicyError):
    """Segregation of duties: the same person in two roles, or paying their own account."""

    code = "duty_conflict"
