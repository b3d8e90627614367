"""Request (dossier) codes as citizens type them: 000.00.PP.HPP-YYMMDD-NNNN
(the mock backend's format, facts.md §5), also with spaces around the dots
and dashes. The backend keeps its own strict, canonical form."""

from __future__ import annotations

import re

# Groups: agency, zone, province, province again, received (YYMMDD), sequence.
TYPED_REQUEST_CODE = re.compile(
    r"(?<![\w.])(\d{3})\s*\.\s*(\d{2})\s*\.\s*(\d{2})\s*\.\s*h\s*(\d{2})\s*[-–]\s*(\d{6})\s*[-–]\s*(\d{4})(?!\w)",
    re.IGNORECASE,
)
