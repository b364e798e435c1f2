"""The Content-Disposition of a file the app hands out (a spreadsheet, an SPSS file, a PDF report).

Names hold Chinese (the campaign's and the community's names, which staff typed), so the header
carries the name twice (RFC 6266): ``filename*=UTF-8''…`` percent-encoded as RFC 5987 says, which
every current browser reads, and a plain ASCII ``filename="…"`` for the clients that do not.
Characters no file system takes (/ \\ : * ? " < > | and control characters) become _ in both, so
a name can neither name a folder nor break the header.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

#: What no file name on Windows, macOS or Linux may hold, and what would break the header.
_UNSAFE = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')
#: RFC 5987 attr-char: what stays as it is in filename*= (everything else is %-encoded).
_ATTR_CHARS = "!#$&+-.^_`|~"
#: What the ASCII fallback keeps as it is.
_ASCII_KEEP = re.compile(r"[^A-Za-z0-9._()\[\]+-]")


def safe_file_name(name: str) -> str:
    """``name`` with what no file system takes replaced by _, and without leading dots or spaces."""
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip().lstrip(".")
    return cleaned or "download"


def _ascii_fallback(name: str) -> str:
    stem, dot, kind = name.rpartition(".")
    if not dot:
        stem, kind = name, ""
    # What is not ASCII goes; a run of separators left behind becomes one (a dash if it held one).
    stem = re.sub(r"[-_]{2,}", lambda run: "-" if "-" in run.group() else "_", _ASCII_KEEP.sub("_", stem))
    stem = stem.strip("_-")
    kind = _ASCII_KEEP.sub("", kind)
    return (stem or "download") + (f".{kind}" if kind else "")


def attachment_headers(name: str, inline: bool = False) -> dict[str, str]:
    """The headers to send ``name`` as a download (or, ``inline``, to show it in the browser, e.g.
    a PDF), e.g. ``Response(body, mimetype=…, headers=attachment_headers("测评-汇总表.xlsx"))``."""
    name = safe_file_name(name)
    disposition = "inline" if inline else "attachment"
    return {"Content-Disposition": f"{disposition}; filename=\"{_ascii_fallback(name)}\"; "
                                   f"filename*=UTF-8''{quote(name, safe=_ATTR_CHARS)}"}
