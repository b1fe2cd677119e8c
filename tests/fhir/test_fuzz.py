"""Any mangled CarePlan or Bundle answers 2xx or a 4xx OperationOutcome, never a server error."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.fhir.conftest import FHIR_JSON, load, parses

ODD_VALUES: st.SearchStrategy[Any] = st.sampled_from(
    [None, 0, -1, 1.5, "", "x", "#pat1", [], {}, [{}], True, "2026-13-40", "urn:uuid:0"]
)


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in a JSON document."""
    found = [here] if here else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*here, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*here, i))
    return found


def _mangle(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    if value is None and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = copy.deepcopy(value)  # never the same list twice: no cycles
    return doc


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mangled_resources_never_break_the_server(client: TestClient, data: st.DataObject) -> None:
    route, name = data.draw(
        st.sampled_from([("CarePlan", "careplan-example.json"), ("Bundle", "bundle-transaction.json")])
    )
    doc = load(name)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        doc = _mangle(doc, data.draw(st.sampled_from(paths)), data.draw(ODD_VALUES))
    response = client.post(f"/fhir/r4/{route}", json=doc, headers=FHIR_JSON)
    assert response.status_code < 500, response.text
    body = response.json()
    parses(body)
    if response.status_code >= 400:
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0].get("expression") or body["issue"][0]["code"] == "structure"
