"""Where an element sits: FHIRPath expressions for a resource and for the document that carried it.

A Patient contained in a CarePlan, or an entry of a transaction Bundle, has two names for the
same element: `Patient.telecom[0].value` (within the resource) and
`CarePlan.contained[0].telecom[0].value` (within what was posted). Errors give both, the
resource's own first.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Where:
    """A resource of type `kind` found at `prefix` in the posted document (`prefix == kind` at its root)."""

    kind: str
    prefix: str

    def at(self, rel: str = "") -> tuple[str, ...]:
        """Both expressions of the element `rel` (e.g. `.telecom[0].value`; '' the resource itself)."""
        own, full = f"{self.kind}{rel}", f"{self.prefix}{rel}"
        return (own,) if own == full else (own, full)


FieldPaths = dict[str, tuple[str, ...]]
"""caredrip's enrollment field (`phone`, `consent.sms`, ...) -> the FHIR elements it came from."""
