"""The Litestar REST API (DESIGN.md §6): thin controllers over the store services."""
