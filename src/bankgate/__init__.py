"""bankgate: a bank-enterprise direct connect gateway (银企直联系统).

The map (dependencies point inward; see docs/architecture.md and DESIGN.md):

    cli/ api/                 interfaces: thin, call services only
    bootstrap.py              composition root: builds engine, channels, the App
    services/                 use cases: payments, batching, dispatch, status, cash, statements
    connectors/               bank channels (host API today), one package per channel
    store/                    SQLAlchemy tables, repositories, unit of work, job queue
    domain/                   money, accounts, payment orders and their lifecycle, statements
    sandbox/                  the banks' side: simulated banks speaking the real protocol
"""

__version__ = "0.1.0"
