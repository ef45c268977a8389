"""Paging limits shared by the list routes."""

MAX_OFFSET = 10**9  # beyond any list; larger ones overflow the server's 64-bit skip
