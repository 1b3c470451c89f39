"""What tests share: the function's environment, messages, constants and the corpus path."""
