"""The render stage (pure): Kubernetes objects of every validated NIMCache / NIMService from Jinja templates."""
