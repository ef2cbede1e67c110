"""Relations load through DataLoaders: a list costs the same statements whatever its length."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from tests import factories
from tests.client import Api

DASHBOARD = """
query Dashboard($first: Int!) {
  viewer { ... on StaffMember { name business { name } } }
  customers(first: $first) {
    totalCount
    edges { node {
      id name
      appointments(first: 5) {
        totalCount
        edges { node { id title customer { name } } }
      }
    } }
  }
}"""


@contextmanager
def statements(server):
    """Every SQL statement the server's engine sends while the block runs."""
    sent: list[str] = []
    engine = server.app.state.services.engine.sync_engine

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_fifty_customers_cost_the_same_statements_as_five(api: Api, server) -> None:
    staff = await factories.register(api)
    for start in range(0, 50, 25):
        batch = " ".join(
            f'c{i}: createCustomer(input: {{name: "Customer {start + i:02}"}}) {{ id }}'
            for i in range(25)
        )
        created = await api.gql(f"mutation {{ {batch} }}", token=staff.token)
        schedule = " ".join(
            f'a{i}_{n}: scheduleAppointment(input: {{customerId: "{c["id"]}", title: "Visit {n}", '
            f'startsAt: "2031-01-0{n + 1}T09:00:00Z", '
            f'endsAt: "2031-01-0{n + 1}T10:00:00Z"}}) {{ id }}'
            for i, c in enumerate(list(created.values())[:12])
            for n in range(2)
        )
        await api.gql(f"mutation {{ {schedule} }}", token=staff.token)

    with statements(server) as few:
        small = await api.gql(DASHBOARD, {"first": 5}, token=staff.token)
    with statements(server) as many:
        large = await api.gql(DASHBOARD, {"first": 50}, token=staff.token)

    assert len(small["customers"]["edges"]) == 5
    assert len(large["customers"]["edges"]) == 50
    with_visits = [e for e in large["customers"]["edges"] if e["node"]["appointments"]["edges"]]
    assert len(with_visits) == 24
    assert all(e["node"]["appointments"]["totalCount"] == 2 for e in with_visits)
    assert len(many) == len(few), "\n".join(["first: 5", *few, "first: 50", *many])
    # session lookup, scope, viewer, business, customers page, count, appointments, their
    # count, appointment customers: a fixed handful, never one per row
    assert len(many) <= 10, "\n".join(many)
