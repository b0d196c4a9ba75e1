"""The results history: storage (store.py) and the ``history`` command's view (view.py)."""

from .store import (
    PREFIX,
    StoredRun,
    append_session,
    check_location,
    location,
    records_at,
    stored_runs,
)

__all__ = [
    "PREFIX",
    "StoredRun",
    "append_session",
    "check_location",
    "location",
    "records_at",
    "stored_runs",
]
