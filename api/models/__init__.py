"""The typed request and response bodies of the REST contract (DESIGN.md §6), one module per
resource. Every struct is camelCase on the wire."""
