"""Streamlit glue shared by the pages: cached resources, progress, error display, forms."""
