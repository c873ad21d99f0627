"""The report stage (pure): text, JSON, GitHub annotations, the Markdown summary, JSON logs, status rows."""
