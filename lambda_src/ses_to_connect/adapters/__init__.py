"""Thin I/O adapters around injected boto3 clients; botocore errors stop here."""
