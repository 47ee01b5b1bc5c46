"""A real SoftHSM2 token store in a temporary directory (its own SOFTHSM2_CONF).

SoftHSM reads SOFTHSM2_CONF once per process, when the module is first initialised, so the
store is session-wide; each test initialises its own token in it with `softhsm2-util`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest

from bankgate.crypto.token import default_module

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
USER_PIN = "246810"
SO_PIN = "13579135"


@dataclass(frozen=True)
class SoftHsm:
    module: Path
    conf: Path
    tokens: Path

    def init_token(self, label: str | None = None) -> str:
        """Initialise a fresh token; its label (user PIN `USER_PIN`).

        SoftHSM enumerates tokens at C_Initialize, so the module is initialised again
        (sessions of earlier tests are gone by then).
        """
        # "t" before the hex: eight hex digits that happen to be all decimal would read as an
        # account number and be masked in alerts and logs (INV-7), 1 label in 43.
        label = label or f"bg-t{secrets.token_hex(4)}"
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                        "--pin", USER_PIN, "--so-pin", SO_PIN], check=True,
                       capture_output=True, env={**os.environ, "SOFTHSM2_CONF": str(self.conf)})
        pkcs11.lib(str(self.module)).reinitialize()
        return label

    def token_dirs(self) -> set[Path]:
        return set(self.tokens.iterdir())


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    module = default_module()
    if module is None or shutil.which("softhsm2-util") is None:
        message = "SoftHSM2 is not installed (scripts/ensure-services.sh installs it as root)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    base = tmp_path_factory.mktemp("softhsm")
    tokens = base / "tokens"
    tokens.mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    return SoftHsm(module=module, conf=conf, tokens=tokens)
