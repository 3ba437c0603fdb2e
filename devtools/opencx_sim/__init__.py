"""An OpenCX API simulator on loopback; contract.py cites the docs.open.cx page for each shape and
docs/opencx-simulator.md says what it implements. Names imported `as` themselves are the public API."""

from devtools.opencx_sim.contract import SCOPE_READ as SCOPE_READ
from devtools.opencx_sim.contract import SCOPE_WRITE as SCOPE_WRITE
from devtools.opencx_sim.contract import history_item as history_item
from devtools.opencx_sim.events import DEMO_SESSIONS as DEMO_SESSIONS
from devtools.opencx_sim.events import EMAIL_SESSION_ID as EMAIL_SESSION_ID
from devtools.opencx_sim.events import PHONE_SESSION_ID as PHONE_SESSION_ID
from devtools.opencx_sim.events import SMS_SESSION_ID as SMS_SESSION_ID
from devtools.opencx_sim.events import WEB_SESSION_ID as WEB_SESSION_ID
from devtools.opencx_sim.events import WHATSAPP_SESSION_ID as WHATSAPP_SESSION_ID
from devtools.opencx_sim.events import demo_handoff_event as demo_handoff_event
from devtools.opencx_sim.events import seed_demo as seed_demo
from devtools.opencx_sim.server import FaultRule as FaultRule
from devtools.opencx_sim.simulator import DEFAULT_KEY_NAME as DEFAULT_KEY_NAME
from devtools.opencx_sim.simulator import DEFAULT_SCOPES as DEFAULT_SCOPES
from devtools.opencx_sim.simulator import OpenCXSimulator as OpenCXSimulator
