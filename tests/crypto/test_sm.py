"""SM2 with SM3, SM3 and SM4 against the published test vectors (GB/T 32918, GM/T 0003.5,
GB/T 32905, GB/T 32907), and cross-checked against a second, independent SM2 (snowland-smx)."""

from __future__ import annotations

import pytest
from pysmx.SM2 import Sign as smx_sign
from pysmx.SM2 import Verify as smx_verify
from tongsuopy.crypto.asymciphers import ec as ts_ec
from tongsuopy.crypto.asymciphers.utils import encode_dss_signature

from bankgate.crypto.signer import Algorithm
from bankgate.crypto.sm import (
    DEFAULT_USER_ID,
    Sm2Signer,
    Sm2Verifier,
    Sm4Gcm,
    generate_sm2_key,
    sm2_encrypted_pem,
    sm2_z,
    sm3,
)
from bankgate.errors import ConfigError, SecurityError, SignatureInvalid

# GM/T 0003.5-2012 Annex A (the signature example on the recommended curve).
D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
PX = 0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020
PY = 0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13
MESSAGE = b"message digest"
Z_A = "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3"
E = "f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640"
K = "59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21"
R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA
PUBLIC_HEX = f"{PX:064x}{PY:064x}"


def test_sm3_matches_the_gbt_32905_examples() -> None:
    assert sm3(b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    assert sm3(b"abcd" * 16).hex() == (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")


def test_the_default_user_id_is_gmt_0009s() -> None:
    assert DEFAULT_USER_ID == b"1234567812345678"


def test_z_a_and_e_match_the_published_values() -> None:
    z = sm2_z(PX, PY)
    assert z.hex() == Z_A
    assert sm3(z + MESSAGE).hex() == E


def test_the_published_private_key_gives_the_published_public_key() -> None:
    numbers = ts_ec.derive_private_key(D, ts_ec.SM2()).public_key().public_numbers()
    assert (numbers.x, numbers.y) == (PX, PY)


def test_our_verifier_accepts_the_published_signature() -> None:
    Sm2Verifier.from_point(PX, PY).verify(MESSAGE, encode_dss_signature(R, S))


@pytest.mark.parametrize("tamper", ["message", "r", "s"])
def test_our_verifier_refuses_the_published_signature_once_altered(tamper: str) -> None:
    message = MESSAGE + b"!" if tamper == "message" else MESSAGE
    r = R ^ 1 if tamper == "r" else R
    s = S ^ 1 if tamper == "s" else S
    with pytest.raises(SignatureInvalid, match="SM2-SM3"):
        Sm2Verifier.from_point(PX, PY).verify(message, encode_dss_signature(r, s))


def test_the_reference_implementation_reproduces_the_signature_with_the_published_nonce() -> None:
    """The alternative (snowland-smx) takes k from the caller, so the whole vector is checked."""
    signature = smx_sign(MESSAGE, f"{D:064x}", K, 64, uid=DEFAULT_USER_ID)
    assert signature.hex() == f"{R:064x}{S:064x}"


def test_a_signature_of_ours_verifies_with_the_independent_implementation() -> None:
    key = ts_ec.derive_private_key(D, ts_ec.SM2())
    signer = Sm2Signer(key)
    signature = signer.sign(b"pay 100.00 CNY to 6222 **** 0001")
    r, s = _decode_der(signature)
    assert smx_verify(f"{r:064x}{s:064x}", b"pay 100.00 CNY to 6222 **** 0001", PUBLIC_HEX, 64,
                      uid=DEFAULT_USER_ID)
    assert not smx_verify(f"{r:064x}{s:064x}", b"pay 100.00 CNY to 6222 **** 0001",
                          PUBLIC_HEX, 64, uid=b"ALICE123@YAHOO.COM")


def test_two_signatures_over_the_same_data_use_different_nonces() -> None:
    signer = Sm2Signer(generate_sm2_key())
    assert signer.sign(b"x") != signer.sign(b"x")


def test_an_encrypted_pem_key_signs_and_its_public_key_verifies() -> None:
    pem = sm2_encrypted_pem(generate_sm2_key(), b"correct horse")
    signer = Sm2Signer.from_pem(pem, b"correct horse")
    verifier = Sm2Verifier.from_public_pem(signer.public_pem())
    assert signer.algorithm is verifier.algorithm is Algorithm.SM2_SM3
    assert signer.key_id == verifier.key_id
    verifier.verify(b"data", signer.sign(b"data"))
    with pytest.raises(SignatureInvalid):
        verifier.verify(b"other", signer.sign(b"data"))


def test_a_wrong_password_or_an_unencrypted_key_is_refused() -> None:
    pem = sm2_encrypted_pem(generate_sm2_key(), b"right")
    with pytest.raises(ConfigError, match="wrong password"):
        Sm2Signer.from_pem(pem, b"wrong")
    with pytest.raises(ConfigError, match="not encrypted"):
        Sm2Signer.from_pem(b"-----BEGIN PRIVATE KEY-----\n", b"x")


def test_a_point_off_the_curve_is_refused() -> None:
    with pytest.raises(ConfigError, match="not on the SM2 curve"):
        Sm2Verifier.from_point(PX, PY + 1)


def test_sm4_matches_the_gbt_32907_example() -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert encryptor.update(key).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_gcm_round_trips_and_refuses_a_flipped_bit_or_other_aad() -> None:
    box = Sm4Gcm(bytes(range(16)))
    nonce = Sm4Gcm.new_nonce()
    sealed = box.encrypt(nonce, b"bank password", b"v1")
    assert box.decrypt(nonce, sealed, b"v1") == b"bank password"
    flipped = bytes([sealed[0] ^ 1]) + sealed[1:]
    with pytest.raises(SecurityError, match="authentication failed"):
        box.decrypt(nonce, flipped, b"v1")
    with pytest.raises(SecurityError, match="authentication failed"):
        box.decrypt(nonce, sealed, b"v2")


def _decode_der(signature: bytes) -> tuple[int, int]:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    return decode_dss_signature(signature)
