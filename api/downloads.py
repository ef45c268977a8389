"""Download headers: the file name as RFC 6266 / RFC 5987 want it, whatever the upload's name."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._ ()\-]")


def content_disposition(file_name: str) -> str:
    """`attachment` with an ASCII fallback `filename` (anything but letters, digits and
    `._ ()-` becomes `_`, so no quote or semicolon can add parameters) and the exact name,
    percent-encoded as UTF-8, in `filename*`."""
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "download"
    decomposed = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = _UNSAFE_ASCII.sub("_", decomposed).strip() or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
