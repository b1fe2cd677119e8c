"""FHIR errors: one exception carrying OperationOutcome issues, and the OperationOutcome it becomes.

Each issue names the element at fault in `expression` (FHIRPath, e.g. `Patient.telecom[0].value`).
HTTP status follows the FHIR REST rules: 400 a resource that does not parse or is not the kind
expected, 422 one that breaks a caredrip rule (unknown program, no contact, no consent), 404 what
the clinic may not see, 409 a change the enrollment's state does not allow, 415 a body that is not
FHIR JSON, 401 no clinic key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from worker.errors import CaredripError

MAX_ISSUES = 20


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue: its IssueType `code`, a sentence, the elements at fault."""

    code: str
    diagnostics: str
    expression: tuple[str, ...] = ()
    severity: str = "error"


@dataclass(eq=False)  # exceptions compare and hash by identity
class FhirError(CaredripError):
    """Raised when a FHIR request cannot be answered; becomes an OperationOutcome with `status`."""

    status: int
    issues: list[Issue] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{'/'.join(i.expression) or '-'}: {i.diagnostics}" for i in self.issues)


def fail(status: int, code: str, diagnostics: str, *expression: str) -> FhirError:
    """A FhirError of one issue (raise it)."""
    return FhirError(status, [Issue(code, diagnostics, tuple(e for e in expression if e))])


def outcome(issues: list[Issue]) -> dict[str, Any]:
    """The OperationOutcome JSON of `issues`."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": i.severity,
                "code": i.code,
                "diagnostics": i.diagnostics,
                **({"expression": list(i.expression)} if i.expression else {}),
            }
            for i in issues[:MAX_ISSUES]
        ],
    }


def fhir_path(root: str, loc: tuple[int | str, ...] | list[int | str]) -> str:
    """A pydantic error location as FHIRPath under `root`: ('telecom', 0, 'value') -> `Patient.telecom[0].value`."""
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += "." + ("resourceType" if part == "resource_type" else part.removesuffix("__ext"))
    return path


_ISSUE_TYPES = {"missing": "required", "extra_forbidden": "structure", "fhir-validation-wrong-resource-type": "invalid"}


def from_pydantic(exc: PydanticValidationError, root: str) -> FhirError:
    """400: the resource does not parse as the R4 model of `root`; one issue per error."""
    issues = [
        Issue(
            _ISSUE_TYPES.get(str(e["type"]), "structure"),
            " ".join(str(e["msg"]).removeprefix("Value error, ").split()),
            (fhir_path(root, tuple(e["loc"])),),
        )
        for e in exc.errors()[:MAX_ISSUES]
    ]
    return FhirError(400, issues)
