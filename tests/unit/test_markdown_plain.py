"""User strings escaped by ui.markdown.plain render as exactly that text in CommonMark (the
Markdown Streamlit builds on): no image, link, emphasis, heading, list, code or HTML, whatever
the string."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from ui.markdown import WORD_JOINER, plain

RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
PAYLOADS = [
    "![px](http://127.0.0.1:9/pixel.png)",
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code` ~~gone~~",
    "# Heading",
    "- item",
    "1. item",
    "> quote",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    ":red[colour] :material/block: $x^2$",
    "line one\nline two\r\n===",
    "&lt;b&gt; &amp; &#60;",
    "http://host.example/x www.example.com",
    "trailing backslash \\",
    "    indented like code",
    "\t+ tabbed list",
]


def _rendered_text(source: str) -> str:
    """The text of the single paragraph CommonMark makes of `source`; fails on any other
    element."""
    out = RENDERER.render(source).strip()
    if not out:
        return ""
    assert out.startswith("<p>") and out.endswith("</p>"), out
    inner = out[3:-4]
    assert "<" not in inner, out  # no element inside the paragraph
    return html.unescape(inner)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_known_payloads_render_as_their_text(payload: str) -> None:
    expected = " ".join(payload.replace("\r", "\n").split())
    shown = _rendered_text(plain(payload)).replace(WORD_JOINER, "")
    assert " ".join(shown.split()) == expected


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))))
def test_any_text_renders_as_itself(text: str) -> None:
    shown = _rendered_text(plain(text)).replace(WORD_JOINER, "")
    assert " ".join(shown.split()) == " ".join(text.replace(WORD_JOINER, "").split())


def test_bare_urls_are_not_made_links() -> None:
    # GFM's autolinks are read from text, after escapes: a word joiner breaks them up.
    assert WORD_JOINER in plain("see http://evil.example/x")
    assert WORD_JOINER in plain("see WWW.evil.example")
