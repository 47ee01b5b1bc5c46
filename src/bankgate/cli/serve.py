"""`bankgate serve`: the REST API under uvicorn, with an in-process worker thread."""

from __future__ import annotations

import threading

import uvicorn

from bankgate.api import create_app
from bankgate.bootstrap import App
from bankgate.services.expiry_job import schedule_expiry
from bankgate.services.worker import Worker

__all__ = ["serve"]


def serve(app: App, host: str, port: int, *, with_worker: bool = True) -> None:
    """Serve until stopped; the worker thread, when asked for, stops cleanly with the server."""
    stop = threading.Event()
    worker: Worker | None = None
    thread: threading.Thread | None = None
    if with_worker:
        schedule_expiry(uow=app.uow, config=app.security, now=app.now)  # issue 5: the watch
        worker = Worker(app.job_context(), concurrency=app.settings.worker_concurrency)
        thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True,
                                  name="bankgate-worker")
        thread.start()
    try:
        uvicorn.run(create_app(app), host=host, port=port, log_level="info")
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=30)
        if worker is not None:
            worker.close()
        app.close()
