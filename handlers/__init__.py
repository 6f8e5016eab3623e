"""AWS-facing operations: one function per operation, registered with `@operation(name)`.

Every module here is imported at start by `emulator.registry.load_handlers`.
"""
