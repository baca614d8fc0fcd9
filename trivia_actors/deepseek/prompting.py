"""How untrusted text reaches the model: JSON-encoded inside a data block it cannot close."""

from __future__ import annotations

import json
from typing import Any


def data_block(document: dict[str, Any]) -> str:
    """``document`` as JSON between <data> tags; angle brackets are escaped so the text cannot close the tag."""
    encoded = json.dumps(document, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return f"<data>\n{encoded}\n</data>"
