"""The export job: request, statuses, verbs, polling, the pipeline, download and restart."""
