"""Channels: one module per way of reaching a patient, all behind `channels.base.Sender`."""
