"""Pure workflow semantics: builder import, node catalogue, interpreter, validation.

Nothing in this package does I/O, reads the clock or the environment: the durable runtime passes
ids, time and results in, and carries effect requests out.
"""
