"""Bank CSV / Excel statement exports, each layout described by a TOML profile (issue 4).

`builtin_profiles()` gives the shipped layouts plus the user's from `$BANKGATE_CSV_PROFILES`;
`detect_profile(head)` picks one by its sniff markers; `read_csv_statement(stream, profile,
origin)` reads the file into a `Statement`. The profile format: docs/csv-profiles.md.
"""

from bankgate.formats.csvprofiles.profile import (
    PROFILES_ENV,
    Profile,
    builtin_profiles,
    load_profile,
    load_profiles,
)
from bankgate.formats.csvprofiles.reader import (
    MAX_FILE_BYTES,
    MAX_XLSX_UNPACKED_BYTES,
    detect_profile,
    read_csv_statement,
)

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_XLSX_UNPACKED_BYTES",
    "PROFILES_ENV",
    "Profile",
    "builtin_profiles",
    "detect_profile",
    "load_profile",
    "load_profiles",
    "read_csv_statement",
]
