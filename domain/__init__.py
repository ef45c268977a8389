"""Pure rules of the product: schema, CSV reading, mapping, validation, the four actions.

Nothing here talks to MongoDB, Redis or the network; callers hand in streams and values.
"""
