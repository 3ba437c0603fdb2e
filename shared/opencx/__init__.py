"""Code that speaks to OpenCX: the webhook it sends and the API the worker reads."""
