"""How records leave: the message writer, Singer lines, the fast path, BATCH files, workers."""
