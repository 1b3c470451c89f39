"""The operators' and developers' tools of ses-to-connect: the command line, operations, the local pipeline."""
