"""What caredrip's FHIR endpoint supports, as a CapabilityStatement (GET /fhir/r4/metadata).

Exactly the routes of `worker.api.fhir`: CarePlan create, read, update and patch (status only);
Communication read and search by `based-on`; PlanDefinition read; the transaction interaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from worker.fhir.terms import FHIR_VERSION, MEDIA_TYPE


def _resource(kind: str, interactions: list[str], **extra: Any) -> dict[str, Any]:
    return {"type": kind, "interaction": [{"code": code} for code in interactions], **extra}


def capability_statement(base: str, software_version: str, date: datetime) -> dict[str, Any]:
    """The CapabilityStatement JSON; `date` is when this server's statement was produced."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date.isoformat(),
        "kind": "instance",
        "software": {"name": "caredrip", "version": software_version},
        "implementation": {"description": "caredrip patient-education messaging", "url": f"{base}/fhir/r4"},
        "fhirVersion": FHIR_VERSION,
        "format": [MEDIA_TYPE, "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Enroll with a CarePlan (Patient and Consents contained) or a transaction Bundle; "
                "read back each message as a Communication.",
                "security": {
                    "cors": False,
                    "description": "The clinic's API key (Authorization: Bearer <key>); others' ids answer 404.",
                },
                "resource": [
                    _resource(
                        "CarePlan",
                        ["create", "read", "update", "patch"],
                        versioning="no-version",
                        updateCreate=False,
                        conditionalCreate=False,
                        documentation="update and patch change status only: on-hold pauses, active resumes, "
                        "revoked cancels.",
                    ),
                    _resource(
                        "Communication",
                        ["read", "search-type"],
                        searchParam=[
                            {
                                "name": "based-on",
                                "definition": "http://hl7.org/fhir/SearchParameter/Communication-based-on",
                                "type": "reference",
                                "documentation": "Required: CarePlan/<id>",
                            }
                        ],
                    ),
                    _resource("PlanDefinition", ["read"]),
                ],
                "interaction": [{"code": "transaction"}],
            }
        ],
    }
