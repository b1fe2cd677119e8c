"""A patient whose enrollment was canceled or completed can be enrolled again (issue 13, item 16)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from starlette.testclient import TestClient

from tests.api.conftest import enrollment_body
from tests.support.engine import SECRET, new_enrollment, run_until_idle
from worker.delivery.types import DeliveryDeps
from worker.deps import EngineDeps
from worker.enrollment import cancel, enroll
from worker.store import Store
from worker.store.keys import due_key, enrollment_key, generation_key, records_key
from worker.tokens import enrollment_id


def test_reenrolling_after_cancel_starts_a_new_enrollment(client: TestClient) -> None:
    first = client.post("/v1/enrollments", json=enrollment_body()).json()
    assert client.post(f"/v1/enrollments/{first['id']}/cancel").status_code == 200
    again = client.post("/v1/enrollments", json=enrollment_body())
    assert again.status_code == 201
    second = again.json()
    assert second["id"] != first["id"] and second["state"] == "active"
    assert client.get(f"/v1/enrollments/{first['id']}").json()["state"] == "canceled"
    assert client.get(f"/v1/enrollments/{first['id']}/messages").status_code == 200
    repeat = client.post("/v1/enrollments", json=enrollment_body())
    assert (repeat.status_code, repeat.json()["id"]) == (200, second["id"])


def test_reenrolling_after_completion_starts_a_new_enrollment(client: TestClient, delivery: DeliveryDeps) -> None:
    first = client.post("/v1/enrollments", json=enrollment_body()).json()
    run_until_idle(delivery)
    assert client.get(f"/v1/enrollments/{first['id']}").json()["state"] == "completed"
    again = client.post("/v1/enrollments", json=enrollment_body())
    assert again.status_code == 201 and again.json()["id"] != first["id"]


# -- generations: concurrency, retention, the due index (issue 13, item 16) -----------------------
def test_a_paused_enrollment_is_not_ended_the_same_event_answers_it(client: TestClient) -> None:
    first = client.post("/v1/enrollments", json=enrollment_body()).json()
    client.post(f"/v1/enrollments/{first['id']}/pause")
    again = client.post("/v1/enrollments", json=enrollment_body())
    assert (again.status_code, again.json()["id"], again.json()["state"]) == (200, first["id"], "paused")


def test_each_end_starts_one_more_generation_and_every_one_stays_readable(client: TestClient) -> None:
    ids = []
    for _ in range(3):
        created = client.post("/v1/enrollments", json=enrollment_body())
        assert created.status_code == 201
        ids.append(created.json()["id"])
        assert client.post(f"/v1/enrollments/{ids[-1]}/cancel").status_code == 200
    assert len(set(ids)) == 3
    for eid in ids:
        assert client.get(f"/v1/enrollments/{eid}").json()["state"] == "canceled"
        assert client.get(f"/v1/enrollments/{eid}/messages").json()["enrollment_id"] == eid
    other_program = client.post("/v1/enrollments", json=enrollment_body(patient_ref="p-2"))
    assert other_program.status_code == 201 and other_program.json()["id"] not in ids


def test_concurrent_reenrollments_make_one_new_enrollment(engine: EngineDeps) -> None:
    first, _ = enroll(engine, new_enrollment())
    cancel(engine, first.id)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _i: enroll(engine, new_enrollment()), range(32)))
    assert sum(created for _, created in results) == 1
    assert len({e.id for e, _ in results}) == 1 and results[0][0].id != first.id


def test_the_latest_generation_is_found_after_the_first_expired(engine: EngineDeps, store: Store) -> None:
    """Generation 0 expires a retention after its end while generation 1 may still run: the
    pointer beside generation 0 has no expiry then, so a later event still finds generation 1."""
    first, _ = enroll(engine, new_enrollment())
    cancel(engine, first.id)
    second, created = enroll(engine, new_enrollment())
    assert created and second.generation == 1
    pointer = generation_key(first.id)
    assert store.redis.ttl(pointer) == -1  # no expiry while generation 1 runs
    assert 0 < store.redis.ttl(enrollment_key(first.id)) <= engine.retention_s
    store.redis.delete(enrollment_key(first.id), records_key(first.id))  # generation 0's retention is over
    again, created_again = enroll(engine, new_enrollment())
    assert (again.id, created_again) == (second.id, False)
    assert store.get_enrollment(first.id) is None  # not brought back


def test_the_pointer_expires_no_earlier_than_the_generation_it_names(engine: EngineDeps, store: Store) -> None:
    first, _ = enroll(engine, new_enrollment())
    cancel(engine, first.id)
    second, _ = enroll(engine, new_enrollment())
    cancel(engine, second.id)
    pointer_ttl = store.redis.ttl(generation_key(first.id))
    assert store.redis.ttl(enrollment_key(second.id)) <= pointer_ttl <= engine.retention_s
    third, created = enroll(engine, new_enrollment())  # a new generation: no expiry again
    assert created and third.generation == 2 and store.redis.ttl(generation_key(first.id)) == -1


def test_a_completed_reenrollment_lets_its_pointer_expire(client: TestClient, delivery: DeliveryDeps) -> None:
    store = delivery.engine.store
    first = client.post("/v1/enrollments", json=enrollment_body()).json()
    client.post(f"/v1/enrollments/{first['id']}/cancel")
    second = client.post("/v1/enrollments", json=enrollment_body()).json()
    assert store.redis.ttl(generation_key(first["id"])) == -1
    run_until_idle(delivery)
    assert client.get(f"/v1/enrollments/{second['id']}").json()["state"] == "completed"
    assert 0 < store.redis.ttl(enrollment_key(second["id"])) <= store.redis.ttl(generation_key(first["id"]))


def test_an_ended_generation_leaves_nothing_in_the_due_index(engine: EngineDeps, store: Store) -> None:
    first, _ = enroll(engine, new_enrollment())
    cancel(engine, first.id)
    second, _ = enroll(engine, new_enrollment())
    for _ in range(2):
        assert enroll(engine, new_enrollment())[0].id == second.id
    for channel in ("sms", "email"):
        assert store.redis.zrange(due_key(channel), 0, -1) == [second.id]


def test_generation_ids_are_derived_and_distinct() -> None:
    ids = [enrollment_id(SECRET, "c_1", "p-1", "twitching", generation) for generation in range(4)]
    assert ids[0] == enrollment_id(SECRET, "c_1", "p-1", "twitching")  # generation 0 keeps its id
    assert len(set(ids)) == 4 and all(len(i) == 20 and i.isalnum() for i in ids)
    assert ids == [enrollment_id(SECRET, "c_1", "p-1", "twitching", generation) for generation in range(4)]
