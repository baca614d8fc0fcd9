"""Messages of the export drainers."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Wake:
    """Tell a drainer to look at the outbox now rather than at its next poll."""
