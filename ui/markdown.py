"""User strings in Streamlit's Markdown, as plain text.

Streamlit renders Markdown in `st.markdown`, captions, alerts, subheaders, flashes and widget
labels: images (which the browser fetches), links, colour and icon directives, LaTeX. A file
name, column header, sample value, reason or any text the API echoes is the user's (hostile
until shown otherwise), so it goes through `plain` wherever it meets Markdown. (Tables,
`st.text` and `st.code` show text as it is.)"""

from __future__ import annotations

import re

# Every ASCII punctuation character that Markdown, GFM or Streamlit's extensions give a
# meaning to; a backslash makes each one literal (CommonMark escapes).
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=^\"'@%/])")
# Line breaks start blocks (headings, lists, quotes); leading blanks make code blocks.
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
# GFM turns bare URLs into links after escapes are read: an invisible word joiner inside
# "://" and "www." keeps them text.
_BARE_LINK = re.compile(r"(:)(//)|(www)(\.)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def plain(value: object) -> str:
    """`value` as literal text inside Markdown: nothing in it formats, links or loads."""
    text = _BARE_LINK.sub(
        lambda m: f"{m[1] or m[3]}{WORD_JOINER}{m[2] or m[4]}",
        _LINE_BREAKS.sub(" ", str(value)).strip(),
    )
    return _SPECIAL.sub(r"\\\1", text)
