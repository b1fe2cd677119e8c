"""The `caredrip` command: run the stack, demo, simulate, lint, enroll, clinics and their keys,
enrollments, status, messages, failed intakes, the operators' inbox of replies, the audit trail,
erasure of a patient, key rotation.

Thin on purpose: each command reads the settings (a bad one stops it with one line naming the
setting, exit 2), calls one function elsewhere (worker.stack, worker.demo, worker.status,
worker.simulate, worker.lint, worker.clinics, worker.enrollment, worker.delivery.resend,
worker.intake_queue), and prints. One module per group: stack (run, demo), content (simulate,
lint), enrollments (enroll, enrollment …; enroll --csv: bulk), schedules (explain, programs),
clinics (clinic …), operators (operator add), operations (status, messages …, intake …), audit
(audit, patient forget), alerts, keys (keys rotate); `base` holds the app and what they share.
"""

from worker.cli import (  # noqa: F401  (registers the commands)
    alerts,
    audit,
    clinics,
    content,
    enrollments,
    keys,
    operations,
    operators,
    replies,
    schedules,
    stack,
)
from worker.cli.base import app

__all__ = ["app"]
