"""招商银行 (China Merchants Bank) 银企直联 through its front-end processor.

Transaction codes, record tags and field names are those of CMB's direct-connect manual as
reproduced in shared/samples/cn-cmb: GetAccInfo (SDKACINFX → NTQACINFZ: ONLBLV, AVLBLV,
CCYNBR), DCPAYMNT (SDKPAYRQX + DCOPDPAYX: YURREF 业务参考号, DBTACC, TRSAMT, CRTACC,
CRTNAM, CRTBNK, BNKFLG → NTQPAYRQZ: REQNBR, REQSTS, RTNFLG), NTQRYSTY (NTQRYSTYX1 by
YURREF), GetTransInfo (SDKTSINFX → NTQTSINFZ: ETYDAT, TRSAMTD/TRSAMTC, AMTCDR, TRSBLV,
REFNBR, RPYNAM, RPYACC) and SDKNTQABINF (NTQABINFY). Where the samples show no answer
(NTQRYSTY, SDKNTQABINF) the answer records NTQRYSTYZ1 and NTQABINFZ (BALDAT, BLVAMT) are
the sandbox's reading; so are the line error codes E0xxx and the RETCOD values below 0,
which CMB's manual lists but our samples do not show — replace them with the manual's when
connecting to the real bank.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from bankgate.connectors.base import ErrorClass
from bankgate.connectors.frontend.banks.model import Call, Calls, FrontendBank, LineError, RetCode
from bankgate.domain import Outcome

__all__ = ["CMB"]

R, T, U = ErrorClass.RETRYABLE, ErrorClass.TERMINAL, ErrorClass.UNKNOWN

CMB: Final = FrontendBank(
    name="cmb",
    calls=Calls(
        balance=Call("GetAccInfo", "SDKACINFX", "NTQACINFZ"),
        submit=Call("DCPAYMNT", "DCOPDPAYX", "NTQPAYRQZ"),
        submit_header="SDKPAYRQX",
        status=Call("NTQRYSTY", "NTQRYSTYX1", "NTQRYSTYZ1"),
        history=Call("GetTransInfo", "SDKTSINFX", "NTQTSINFZ"),
        day_balance=Call("SDKNTQABINF", "NTQABINFY", "NTQABINFZ"),
    ),
    fields=MappingProxyType({
        "branch": "BBKNBR", "account": "ACCNBR", "account_name": "ACCNAM",
        "currency": "CCYNBR", "ledger": "ONLBLV", "available": "AVLBLV",
        "reference": "YURREF", "debtor": "DBTACC", "debtor_branch": "DBTBBK",
        "amount": "TRSAMT", "channel": "STLCHN", "purpose": "NUSAGE", "same_bank": "BNKFLG",
        "payee_account": "CRTACC", "payee_name": "CRTNAM", "payee_bank": "CRTBNK",
        "bank_reference": "REQNBR", "status": "REQSTS", "result": "RTNFLG",
        "error_code": "ERRCOD", "error_text": "ERRTXT", "from": "BGNDAT", "to": "ENDDAT",
        "business_code": "BUSCOD", "booking_date": "ETYDAT", "booking_time": "ETYTIM",
        "value_date": "VLTDAT", "debit": "TRSAMTD", "credit": "TRSAMTC",
        "direction": "AMTCDR", "balance_after": "TRSBLV", "serial": "REFNBR",
        "counterparty_name": "RPYNAM", "counterparty_account": "RPYACC",
        "day": "BALDAT", "day_balance": "BLVAMT",
    }),
    currencies=MappingProxyType({"10": "CNY", "21": "HKD", "32": "USD", "35": "EUR"}),
    statuses=MappingProxyType({
        ("OPR", ""): Outcome.RECEIVED,  # 数据接收中
        ("NTE", ""): Outcome.RECEIVED,  # 待处理
        ("AUT", ""): Outcome.AWAITING_CONFIRMATION,  # 等待审批 (网银二次确认)
        ("BNK", ""): Outcome.ACCEPTED,  # 银行处理中: debited
        ("FIN", "S"): Outcome.SETTLED,  # 完成, 成功
        ("FIN", "F"): Outcome.REJECTED,  # 完成, 失败
        ("FIN", "R"): Outcome.REJECTED,  # 完成, 否决
        ("FIN", "B"): Outcome.RETURNED,  # 完成, 退票
        ("NOF", ""): Outcome.NOT_FOUND,  # sandbox: no such 业务参考号
    }),
    ok_code="SUC0000",
    line_errors=MappingProxyType({
        "E0105": LineError("AM04", "insufficient funds 余额不足"),
        "E0201": LineError("AC01", "payee account unknown 收方账号不存在"),
        "E0202": LineError("AC04", "account closed 账户已销户"),
        "E0203": LineError("BE01", "payee name does not match 户名不符"),
        "E0204": LineError("AC02", "debtor account unknown 付方账号不存在"),
        "E0301": LineError("DU05", "业务参考号重复: the bank holds this reference"),
        "E0001": LineError("FF01", "request refused as invalid"),
        "E9999": LineError("MS03", "bank internal error"),
    }),
    duplicate_code="E0301",
    retcodes=MappingProxyType({
        "-1": RetCode(T, T, "refused by the bank: malformed or invalid request"),
        "-2": RetCode(U, R, "the bank failed while processing; a submit may be booked"),
        "-3": RetCode(R, R, "the bank refused the front-end's signature; nothing was done"),
        "-4": RetCode(R, R, "the front-end could not reach the bank; nothing was sent"),
        "-5": RetCode(U, R, "the bank's answer failed the front-end's signature check"),
        "-6": RetCode(U, R, "the bank's answer was lost after the request was sent"),
        "-9": RetCode(R, R, "the bank is busy; nothing was done"),
    }),
    bank_names=MappingProxyType({"cmb": "招商银行", "icbc": "中国工商银行",
                                 "boc": "中国银行", "abc": "中国农业银行",
                                 "ccb": "中国建设银行"}),
    business=MappingProxyType({"BUSCOD": "N02031", "BUSMOD": "00001"}),
    max_status_ids=50,
)
