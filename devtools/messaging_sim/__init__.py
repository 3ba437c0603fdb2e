"""A Messaging API simulator on loopback: the API a custom messaging channel calls, and Dynamics' side
(simulator.py cites the Microsoft pages it follows)."""

from devtools.messaging_sim.faults import FaultRule
from devtools.messaging_sim.simulator import MessagingSimulator

__all__ = ["FaultRule", "MessagingSimulator"]
