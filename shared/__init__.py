"""Code that the HTTP and queue functions share: settings, models, signature, logging, clients."""
