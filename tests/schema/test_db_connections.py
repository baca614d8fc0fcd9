"""PostgreSQL connections notice a vanished peer: keepalives on our side, a bound on idle transactions on the
server's side (a client cut off mid-transaction must not hold its row locks for hours)."""

from __future__ import annotations

from schema.db import IDLE_IN_TRANSACTION_TIMEOUT_MS, make_database


def test_server_side_bound_on_idle_transactions_and_client_keepalives(pg_url: str) -> None:
    database = make_database(pg_url)
    with database.connection_context():
        (timeout,) = database.execute_sql("SHOW idle_in_transaction_session_timeout").fetchone()
        assert timeout == f"{IDLE_IN_TRANSACTION_TIMEOUT_MS // 60_000}min"
        params = database.connection().get_dsn_parameters()
        assert params["keepalives"] == "1" and params["keepalives_idle"] == "30"
    database.close_all()

