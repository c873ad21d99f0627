"""The validate stage (pure): JSON Schema, the operator's rules per kind, and best-practice advice."""
