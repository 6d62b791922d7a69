"""One router per domain, all mounted under ``/api/v1``."""
