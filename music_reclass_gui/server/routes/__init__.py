"""One router per resource: classify, jobs, review, models, health, metrics, stream."""
