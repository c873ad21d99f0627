"""The cluster stage: the ``kubernetes`` seam and everything that reads or writes the cluster through it.

Nothing here is imported at package level: the lock, events and the record load neither the client nor YAML.
"""
