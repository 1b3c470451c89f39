"""Local stand-ins for the AWS services the pipeline calls, so tests and demos run without AWS."""
