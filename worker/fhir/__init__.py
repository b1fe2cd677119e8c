"""FHIR R4 for caredrip: an EHR enrolls with a CarePlan and reads back what was sent as Communications.

Mapping in (`careplan_in`, `patient_in`, `consent_in`), mapping out (`careplan_out`,
`communication`, `plandefinition`), what the server supports (`capability`), errors as
OperationOutcome (`errors`). Resources are validated with `fhir.resources`' R4B models (the same
JSON as R4 for every resource used here). HTTP lives in `worker.api.fhir`.
"""
