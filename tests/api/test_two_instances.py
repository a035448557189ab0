"""Two app instances on one database serving the same signed-in user alternately: each
instance caches the user's memory, and the answers, history, arithmetic memory and
conversation stay exactly what one instance would have produced."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from tests.clients import new_user

# (instance, command, expected reply): every step after the first runs on an instance
# whose cached memory the other instance has just made stale.
STEPS = [
    (0, "2+2", "4"),
    (1, "plus 6", "10"),
    (0, "times 3", "30"),
    (1, "minus 5", "25"),
    (1, "plus 1", "26"),
    (0, "divided by 2", "13"),
]


@pytest.mark.postgres
def test_two_instances_alternating_keep_memory_history_and_conversation(
    make_client: Callable[..., TestClient], postgres_url: str
) -> None:
    instances = [make_client(postgres_url), make_client(postgres_url)]
    user_id, auth = new_user(instances[0])
    for index, command, expected in STEPS:
        response = instances[index].post("/api/command", headers=auth, json={"command": command})
        assert response.status_code == 200, response.text
        assert expected in response.json()["response"], (command, response.json())
    engine = create_engine(make_url(postgres_url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            history = conn.execute(
                text("SELECT command, result FROM command_history WHERE user_id = :u ORDER BY id"),
                {"u": user_id},
            ).all()
            assert [row[0] for row in history] == [step[1] for step in STEPS]
            for row, step in zip(history, STEPS, strict=True):
                assert step[2] in row[1]
            conversations = conn.execute(
                text("SELECT id FROM conversations WHERE user_id = :u"), {"u": user_id}
            ).all()
            assert len(conversations) == 1
            messages = conn.execute(
                text(
                    "SELECT is_user, content FROM messages WHERE conversation_id = :c ORDER BY id"
                ),
                {"c": conversations[0][0]},
            ).all()
            assert [m[1] for m in messages[::2]] == [step[1] for step in STEPS]
            assert all(m[0] for m in messages[::2]) and not any(m[0] for m in messages[1::2])
            last = conn.execute(
                text("SELECT last_result FROM users WHERE id = :u"), {"u": user_id}
            ).scalar_one()
            assert last == "13/1"
    finally:
        engine.dispose()


def test_local_turns_read_nothing_once_the_memory_is_cached(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(database_url)
    _, auth = new_user(client)
    assert client.post("/api/command", headers=auth, json={"command": "2+2"}).status_code == 200
    services = client.app.state.services  # type: ignore[attr-defined]
    engine = services.engine.sync_engine
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0].upper())

    direct = services.assistant.turns.direct
    if direct is not None:
        # The SQLite writer runs its statements on the stdlib driver, on its one connection.
        writer_connection = direct.raw_connection()
        writer_connection.driver_connection.set_trace_callback(
            lambda statement: statements.append(statement.split()[0].upper())
        )
        writer_connection.close()
    event.listen(engine, "before_cursor_execute", record)
    try:
        for command, expected in (("plus 6", "10"), ("times 2", "20"), ("hello", "")):
            response = client.post("/api/command", headers=auth, json={"command": command})
            assert response.status_code == 200 and expected in response.json()["response"]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    # Per turn only the writer's statements; the per-turn read of the user's state is gone.
    if database_url.startswith("postgresql"):
        # One read (memory and latest conversation), one write (the whole batch).
        assert statements == ["SELECT", "WITH"] * 3, statements
    else:
        # One read, then the inserts (a message pair, a history row), in one transaction.
        assert statements.count("SELECT") == 3, statements
        assert statements.count("BEGIN") == statements.count("COMMIT") == 3, statements
        assert statements.count("INSERT") == 3 * 3, statements
