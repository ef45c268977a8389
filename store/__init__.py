"""MongoDB adapters: Beanie documents and the services that read and write them.

Both the API and the workers use this package; the pure rules live in `domain/`.
"""
