"""K-01, K-02: the API process is SIGKILLed around the commit; the client's retry is safe."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bankgate.bootstrap import build_app
from bankgate.settings import Settings
from tests.api.conftest import a_payment, erp_headers

CONFIG = ('policy = "straight-through"\n'
          '[[accounts]]\nid = "icbc-cny"\nbank = "icbc"\nnumber = "6222020200001000001"\n'
          'currency = "CNY"\nname = "示例科技有限公司"\n')


def _serve(store_url: str, config: Path, crash_at: str | None) -> tuple[subprocess.Popen, str]:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = {**os.environ, "BANKGATE_DB_URL": store_url, "BANKGATE_CONFIG": str(config),
           "BANKGATE_TEST_HOOKS": "1"}
    env.pop("BANKGATE_CRASH_AT", None)
    if crash_at:
        env["BANKGATE_CRASH_AT"] = crash_at
    proc = subprocess.Popen([sys.executable, "-m", "bankgate", "serve", "--port", str(port),
                             "--no-worker"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("bankgate serve did not start")


@pytest.mark.slow
@pytest.mark.parametrize(("point", "replayed"), [("payments.before_commit", False),
                                                 ("api.after_commit", True)])
def test_a_retry_after_the_api_died_creates_exactly_one_order(store_url, tmp_path, point,
                                                              replayed):
    """K-01 (killed before the commit) and K-02 (killed after it, before the answer)."""
    config = tmp_path / "bankgate.toml"
    config.write_text(CONFIG, encoding="utf-8")
    app = build_app(Settings(db_url=store_url), {})
    headers = {"Idempotency-Key": "k-crash-1", **erp_headers(app)}
    app.close()
    proc, url = _serve(store_url, config, point)
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{url}/api/v1/payments", json=a_payment(), headers=headers, timeout=10)
    assert proc.wait(timeout=10) == -9
    proc, url = _serve(store_url, config, None)
    try:
        retry = httpx.post(f"{url}/api/v1/payments", json=a_payment(), headers=headers,
                           timeout=10)
        listed = httpx.get(f"{url}/api/v1/payments", headers=headers,
                           timeout=10).json()["payments"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert retry.status_code == 201
    assert (retry.headers.get("Idempotency-Replayed") == "true") is replayed
    assert [p["id"] for p in listed] == [retry.json()["id"]]
