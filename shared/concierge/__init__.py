"""The concierge (docs/concierge.md): what the customer is told while a person is not there yet.

Between the adapters and the functions: it uses shared.opencx (send), shared.dynamics (availability)
and shared.platform; shared.messaging may use it (the relay's while-waiting messages).
"""
