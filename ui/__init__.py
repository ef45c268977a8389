"""The Streamlit UI: sign-in, the import page and the upload status page."""
