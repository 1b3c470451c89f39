"""What tests share: constants, the message builder, the corpus path, the function's environment and
in-memory fakes of the ports."""
