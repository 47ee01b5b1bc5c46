"""The world description, the demo world and the test PKI."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from bankgate.crypto import issue_test_pki
from bankgate.errors import ConfigError
from bankgate.sandbox.demo_world import COMPANY, demo_payees, demo_world
from bankgate.sandbox.world import World
from tests.sandbox.conftest import small_world


def test_a_world_round_trips_through_plain_data():
    world = small_world()
    assert World.from_dict(json.loads(json.dumps(world.to_dict()))) == world


@pytest.mark.parametrize(("change", "where"), [
    (lambda d: d["banks"].append(dict(d["banks"][0])), "banks[3].id"),
    (lambda d: d["banks"][0].update(dialect="hsbc"), "banks[0].dialect"),
    (lambda d: d["accounts"][0].update(bank="abc"), "accounts[0].bank"),
    (lambda d: d["accounts"][0].update(opening_balance="1.005"), "accounts[0]"),
    (lambda d: d["accounts"][0].update(opening_balance=100.0), "accounts[0].opening_balance"),
    (lambda d: d["accounts"][0].update(opening_balance="-1.00"), "accounts[0].opening_balance"),
    (lambda d: d["accounts"][0].update(currency="XYZ"), "accounts[0]"),
    (lambda d: d["accounts"][1].update(number=d["accounts"][0]["number"]), "accounts[1].number"),
    (lambda d: d["accounts"][0].update(colour="red"), "accounts[0].colour"),
])
def test_a_bad_world_is_refused_naming_the_field(change, where):
    data = small_world().to_dict()
    change(data)
    with pytest.raises(ConfigError) as error:
        World.from_dict(data)
    assert where in str(error.value)


def test_the_demo_world_is_the_same_for_the_same_seed_and_rigs_real_failures():
    world = demo_world(seed=7)
    assert world == demo_world(seed=7) and world != demo_world(seed=8)
    assert [b.id for b in world.banks] == ["icbc", "cmb", "boc"]
    company = {a.bank: a for a in world.company_accounts()}
    assert set(company) == {"icbc", "cmb", "boc"}
    assert all(a.holder == COMPANY for a in company.values())
    assert Decimal(company["boc"].opening_balance) < Decimal(company["icbc"].opening_balance)
    payees = demo_payees(world)
    assert len(payees) == 200
    assert {p["flow"] for p in payees} == {"supplier", "payroll"}
    assert Counter(p["bank"] for p in payees)["abc"] > 0
    held = {(a.bank, a.number): a for a in world.accounts}
    rigged = {p["rigged"] for p in payees[:60]}
    assert {"closed_account", "unknown_account", "name_mismatch"} <= rigged
    for payee in payees:
        account = held.get((payee["bank"], payee["account"]))
        if payee["rigged"] == "unknown_account":
            assert account is None
        elif payee["rigged"] == "closed_account":
            assert account is not None and not account.open
        elif payee["rigged"] == "name_mismatch":
            assert account is not None and account.holder != payee["name"]
        elif payee["bank"] != "abc":
            assert account is not None and account.open and account.holder == payee["name"]
        assert Decimal(payee["amount"]) > 0 and "." in payee["amount"]
    boc_demand = sum(Decimal(p["amount"]) for p in payees if p["bank"] == "boc")
    assert Decimal(company["boc"].opening_balance) < boc_demand


def test_demo_payees_refuse_a_world_that_is_not_a_demo_world():
    with pytest.raises(ValueError, match="demo_world"):
        demo_payees(small_world())


def test_the_pki_is_reused_and_has_the_right_names_and_usages(tmp_path):
    pki = issue_test_pki(tmp_path)
    stamp = {p: p.read_bytes() for p in (pki.ca_cert, pki.server_cert, pki.client_cert)}
    again = issue_test_pki(tmp_path)
    assert again == pki and all(p.read_bytes() == b for p, b in stamp.items())
    server = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usages = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    client = x509.load_pem_x509_certificate(pki.client_cert.read_bytes())
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    assert pki.server_key.stat().st_mode & 0o077 == 0


def test_a_new_host_or_a_broken_file_issues_again(tmp_path):
    pki = issue_test_pki(tmp_path)
    ca = pki.ca_cert.read_bytes()
    issue_test_pki(tmp_path, hosts=("127.0.0.1", "localhost", "bank.test"))
    server = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "bank.test" in names.get_values_for_type(x509.DNSName)
    assert pki.ca_cert.read_bytes() == ca  # the CA stays
    pki.ca_cert.write_text("garbage")
    issue_test_pki(tmp_path)
    new_ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    server = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    server.verify_directly_issued_by(new_ca)  # leaves were issued again by the new CA
