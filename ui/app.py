"""Streamlit entry point (`streamlit run ui/app.py`): sign-in, then the pages the user's role
allows. Importers and admins get the import page; everyone gets the upload status page."""

import streamlit as st

from ui import session
from ui.sign_in import render_sign_in

st.set_page_config(
    page_title="Bulk Customer Upload", page_icon=":material/upload_file:", layout="wide"
)

signed_in = session.principal()
if signed_in is None:
    render_sign_in()
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

with st.sidebar:
    st.markdown(f"Signed in as **{signed_in['name']}** ({signed_in['role']})")
    if not importer:
        st.caption("Your role can follow uploads and download reports, not start imports.")
    if st.button("Sign out"):
        session.sign_out()
        st.rerun()

st.navigation(pages).run()
