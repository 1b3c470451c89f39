"""What the tests share: builders, constants and in-memory stand-ins of the function's ports."""
