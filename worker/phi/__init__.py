"""PHI at rest: sealing (AES-256-GCM under the CAREDRIP_DATA_KEYS keyring), blind indexes, laptop keys.

Self-contained primitives; the store's codec decides which fields it seals and which it indexes.
"""

from worker.phi.index import IndexKey
from worker.phi.keyfile import load_or_create_keyring
from worker.phi.keyring import Keyring, SealError, UnknownKeyError

__all__ = ["IndexKey", "Keyring", "SealError", "UnknownKeyError", "load_or_create_keyring"]
