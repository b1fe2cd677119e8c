"""Redis: the only package that knows Redis's shape (keys, field codes, Lua scripts)."""

from worker.store.clinics import ClinicStore
from worker.store.redis_store import Command, Op, ScriptCall, Store

__all__ = ["ClinicStore", "Command", "Op", "ScriptCall", "Store"]
