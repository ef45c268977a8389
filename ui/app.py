"""Streamlit entry point (the import and status pages are built in ui/)."""

import streamlit as st

st.set_page_config(page_title="Bulk Customer Upload", layout="wide")
st.title("Bulk Customer Upload")
st.write("The import pages are on their way; the REST API is available at /docs.")
