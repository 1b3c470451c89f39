"""Hostile mail through the real handler, one child process per message under the deployed limits.

``messages.py`` builds each class of hostile mail at any size; ``test_hostile_mail.py`` runs
them through the local pipeline's ``sandbox`` (the stack's memory, its timeout, CPU scaled to the
memory's share of a vCPU) against moto and the Connect emulator; ``test_sandbox.py`` checks the sandbox
itself: that it kills at each limit and reports the kill as Lambda does.
"""
