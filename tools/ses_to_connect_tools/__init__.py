"""The tools of ses-to-connect: the command line, the operators' commands, the local pipeline."""
