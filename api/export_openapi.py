"""Write the API's OpenAPI document to ``openapi.json`` at the repository root.

Run ``python -m api.export_openapi`` after changing an endpoint; a test fails
while the committed file is stale, so API changes show up in diffs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from routing.regions import PROJECT_ROOT

OPENAPI_PATH = PROJECT_ROOT / "openapi.json"


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the app (no region is loaded for this)."""
    from api.app import create_app
    from api.settings import Settings

    return create_app(Settings()).openapi()


def render(document: dict[str, Any]) -> str:
    """Stable text form: two-space indent, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the file (or with ``--check`` exit 1 when it is stale)."""
    argv = sys.argv[1:] if argv is None else argv
    text = render(openapi_document())
    path = Path(OPENAPI_PATH)
    if "--check" in argv:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            sys.stderr.write(f"{path} is stale; run: python -m api.export_openapi\n")
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {path} ({len(document_paths(text))} paths)\n")
    return 0


def document_paths(text: str) -> list[str]:
    """Paths listed in a rendered document."""
    return list(json.loads(text).get("paths", {}))


if __name__ == "__main__":
    raise SystemExit(main())
