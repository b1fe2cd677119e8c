"""FHIR R4 for caredrip: an EHR enrolls with a CarePlan and reads back what was sent as Communications.

Mapping in: `careplan_in` (CarePlan or transaction Bundle), `patient_in`, `consent_in`; enrolling
and status changes through the engine: `lifecycle`. Mapping out: `careplan_out`, `communication`
(with the text from `payload`), `plandefinition`. What the server supports: `capability`. Errors
as OperationOutcome: `errors`, with element paths from `paths`; URLs and codes: `terms`.
Resources are validated with `fhir.resources`' R4B models (the same JSON as R4 for every
resource used here). HTTP lives in `worker.api.fhir`.
"""
