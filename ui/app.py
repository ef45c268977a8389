"""Streamlit entry point (served by ui/server.py): the pages the signed-in user's role allows.
Importers and admins get the import page; everyone gets the upload status page; admins get
the administration pages. A request the API refuses as signed out sends the user to sign in."""

import html
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import streamlit as st

from ui import session
from ui.api_client import ApiError, SignedOut
from ui.links import sign_in_url
from ui.markdown import plain

# A local icon: a material-symbol page icon makes every browser fetch it from the internet.
st.set_page_config(
    page_title="Bulk Customer Upload",
    page_icon=str(Path(__file__).with_name("favicon.png")),
    layout="wide",
)

# Captions (and radio options' captions) in Streamlit's faded grey read at a contrast of
# 3.9:1 on white; WCAG AA asks 4.5:1 for text this size (axe-core: tests/e2e).
st.html(
    "<style>[data-testid='stCaptionContainer']"
    " { color: #4f515c !important; opacity: 1 !important; }</style>"
)

try:
    signed_in = session.principal()
except ApiError as error:
    st.error(plain(error))
    st.stop()
if signed_in is None:
    st.title("Bulk Customer Upload")
    st.info("You are not signed in, or your session has ended.")
    query = urlencode(st.query_params.to_dict())
    asked = (urlsplit(st.context.url or "/").path or "/") + (f"?{query}" if query else "")
    # Signing in again returns here (ui/links.py keeps it to a page of this UI).
    again = html.escape(sign_in_url(asked), quote=True)
    st.html(f'<a href="{again}" target="_self">Sign in</a>')
    st.stop()

importer = session.can_import()
status_page = st.Page(
    "status_page.py", title="Upload status", icon=":material/monitoring:", default=not importer
)
pages = [status_page]
if importer:
    pages.insert(
        0,
        st.Page(
            "import_page.py", title="Import customers", icon=":material/upload_file:", default=True
        ),
    )
    pages.append(st.Page("schedules_page.py", title="Schedules", icon=":material/schedule:"))
pages.append(st.Page("customers_page.py", title="Customer lookup", icon=":material/person_search:"))
if signed_in["role"] == "admin":
    pages += [
        st.Page("webhooks_page.py", title="Webhooks", icon=":material/webhook:"),
        st.Page("audit_page.py", title="Audit", icon=":material/policy:"),
        st.Page("schema_page.py", title="Customer schema", icon=":material/schema:"),
        st.Page("keys_page.py", title="API keys", icon=":material/key:"),
        st.Page("mappings_page.py", title="Remembered mappings", icon=":material/bookmarks:"),
    ]

with st.sidebar:
    st.markdown(f"Signed in as **{plain(signed_in['name'])}** ({signed_in['role']})")
    if not importer:
        st.caption("Your role can follow uploads and download reports, not start imports.")
    st.html('<a href="/signout" target="_self" data-testid="sign-out">Sign out</a>')

try:
    st.navigation(pages).run()
except SignedOut:  # the session ended or its key was revoked
    session.sign_out_here()
