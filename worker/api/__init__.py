"""The HTTP API (FastAPI), one module per router: enrollments for clinics, Twilio webhooks,
email unsubscribe, health and metrics; `app` is what `uvicorn worker.api:app` serves.

- `factory.py` builds the app (`create_app`) over an `ApiContext` (`context.py`); `auth.py` holds the
  clinic key dependency; `errors.py` the error answers; `body_limit.py` the 64 KiB body limit.
- Routers: `enrollments.py`, `webhooks.py` (Twilio), `unsubscribe.py` (+ `pages.py`), `ops.py`.
- `schemas.py`: request and response schemas. Handlers call the engine, never the store.
"""

from worker.api.context import ApiContext
from worker.api.factory import create_app
from worker.var_dir import use_private_umask

__all__ = ["ApiContext", "app", "create_app"]

use_private_umask()  # `uvicorn worker.api:app`: whatever the API writes (outbox, var/keys/) is private
app = create_app()
