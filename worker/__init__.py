"""caredrip: drips patient-education programs by SMS and email at the patient's local time."""

__version__ = "0.1.0"
