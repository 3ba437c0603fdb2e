"""The table shapes the simulator enforces, each taken from Microsoft's table reference.

Sources (MicrosoftDocs/dynamics-365-customer-engagement, ce/customer-service/develop/reference/entities/):
- msdyn_ocliveworkitem.md: subject MaxLength 200; statecode 0 Open, 1 Closed, 2 Resolved, 3 Scheduled,
  4 Wrap-up, with default statuscodes 1, 4, 6, 7, 5; statecode IsValidForCreate False.
- incident.md: title MaxLength 200 (ApplicationRequired), description Memo MaxLength 2000, ticketnumber
  MaxLength 100 (IsValidForUpdate False), prioritycode 1 High / 2 Normal / 3 Low, customerid
  SystemRequired (targets account, contact), ownerid targets systemuser and team; statecode 0 Active,
  1 Resolved, 2 Cancelled with default statuscodes 1, 5, 6 and statecode IsValidForCreate False.
- contact.md: mobilephone MaxLength 50 (and firstname/lastname 50, emailaddress1 100, telephone1 50,
  description 2000); statecode 0 Active, 1 Inactive with default statuscodes 1, 2.
msdyn_ocliveworkitemcontextitem.msdyn_value is 512 in docs/contract.md section 5.2 (the simulator's earlier
4,000 was wrong: issue 12).
"""

from __future__ import annotations

# ---------------------------------------------------------------- live work item (deep insert)

WORK_ITEM = "msdyn_ocliveworkitem"
WORK_ITEM_SET = "msdyn_ocliveworkitems"
CHANNELS = frozenset({"192340000", "192300000", "192360000"})  # sms, whatsapp, web
WORKSTREAM_BIND = "msdyn_liveworkstreamid_msdyn_ocliveworkitem@odata.bind"
WORK_ITEM_CONTACT_BIND = "msdyn_customer_msdyn_ocliveworkitem_contact@odata.bind"
CONTEXT_ITEMS = "msdyn_msdyn_ocliveworkitem_msdyn_ocliveworkitemcontextitem_ocliveworkitemid"
WORK_ITEM_PROPERTIES = frozenset(
    {
        "activityid",
        "msdyn_ocliveworkitemid",
        "subject",
        "description",
        "msdyn_channel",
        WORKSTREAM_BIND,
        WORK_ITEM_CONTACT_BIND,
        CONTEXT_ITEMS,
    }
)
CONTEXT_ITEM = "msdyn_ocliveworkitemcontextitem"
CONTEXT_ITEM_PROPERTIES = frozenset({"msdyn_name", "msdyn_value", "msdyn_isdisplayable"})
MAX_SUBJECT, MAX_WORK_ITEM_DESCRIPTION, MAX_CONTEXT_NAME, MAX_CONTEXT_VALUE = 200, 2000, 100, 512
WORK_ITEM_COLUMNS = (
    "activityid",
    "msdyn_ocliveworkitemid",
    "subject",
    "description",
    "msdyn_channel",
    "statecode",
    "statuscode",
    "createdon",
    "_msdyn_liveworkstreamid_value",
    "_msdyn_customer_value",
)

# ---------------------------------------------------------------- incident (case)

INCIDENT = "incident"
INCIDENT_SET = "incidents"
INCIDENT_CONTACT_BIND = "customerid_contact@odata.bind"
INCIDENT_ACCOUNT_BIND = "customerid_account@odata.bind"
INCIDENT_OWNER_BIND = "ownerid@odata.bind"
INCIDENT_PRIMARY_CONTACT_BIND = "primarycontactid@odata.bind"
MAX_TITLE, MAX_INCIDENT_DESCRIPTION, MAX_TICKET_NUMBER = 200, 2000, 100
PRIORITY_CODES = frozenset({1, 2, 3})
# Writable scalar columns of the stock incident (the reference's "Writable columns" minus lookups, which
# the Web API sets only through `<navigation property>@odata.bind`). Custom columns are added per
# simulator with add_incident_columns(), as a real environment's customisations would.
INCIDENT_SCALAR_COLUMNS = frozenset(
    {
        "activitiescomplete",
        "actualserviceunits",
        "billedserviceunits",
        "blockedprofile",
        "caseorigincode",
        "casetypecode",
        "checkemail",
        "contractservicelevelcode",
        "customercontacted",
        "customersatisfactioncode",
        "decremententitlementterm",
        "description",
        "emailaddress",
        "firstresponsesent",
        "firstresponseslastatus",
        "followupby",
        "followuptaskcreated",
        "incidentid",
        "incidentstagecode",
        "influencescore",
        "isdecrementing",
        "isescalated",
        "messagetypecode",
        "prioritycode",
        "productserialnumber",
        "resolveby",
        "resolvebyslastatus",
        "responseby",
        "routecase",
        "servicestage",
        "severitycode",
        "statuscode",
        "ticketnumber",
        "title",
    }
)
INCIDENT_BINDS = frozenset(
    {INCIDENT_CONTACT_BIND, INCIDENT_ACCOUNT_BIND, INCIDENT_OWNER_BIND, INCIDENT_PRIMARY_CONTACT_BIND}
)
INCIDENT_COLUMNS = (
    "incidentid",
    "title",
    "description",
    "prioritycode",
    "ticketnumber",
    "statecode",
    "statuscode",
    "createdon",
    "_customerid_value",
    "_ownerid_value",
    "_primarycontactid_value",
)
# Auto-numbering ("Change auto-numbering prefixes ...", MicrosoftDocs/power-platform, power-platform/admin/
# change-auto-number-prefix-contract-case-article-quote-order-invoice-campaign-category-knowledge-articles.md):
# a three-character prefix (CAS for cases), a number that starts at 1000, and a random suffix whose length
# is set per environment (six by default), as in CAS-01000-K3Y8T2.
TICKET_PREFIX, TICKET_FIRST_NUMBER, TICKET_SUFFIX_LENGTH = "CAS", 1000, 6

# ---------------------------------------------------------------- contact

CONTACT = "contact"
CONTACT_SET = "contacts"
CONTACT_LENGTHS = {
    "firstname": 50,
    "lastname": 50,
    "emailaddress1": 100,
    "mobilephone": 50,
    "telephone1": 50,
    "description": 2000,
}
CONTACT_PROPERTIES = frozenset({"contactid", *CONTACT_LENGTHS})
CONTACT_COLUMNS = (
    "contactid",
    "firstname",
    "lastname",
    "fullname",
    "emailaddress1",
    "mobilephone",
    "telephone1",
    "description",
    "statecode",
    "statuscode",
    "createdon",
)

# ---------------------------------------------------------------- states

# statecode -> default statuscode, and statuscode -> the statecode it belongs to, per table.
DEFAULT_STATUS = {
    WORK_ITEM: {0: 1, 1: 4, 2: 6, 3: 7, 4: 5},
    INCIDENT: {0: 1, 1: 5, 2: 6},
    CONTACT: {0: 1, 1: 2},
}
STATUS_STATE = {
    WORK_ITEM: {1: 0, 2: 0, 3: 0, 5: 0, 4: 1, 6: 2, 7: 3},
    INCIDENT: {1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 1000: 1, 6: 2, 2000: 2},
    CONTACT: {1: 0, 2: 1},
}

# ---------------------------------------------------------------- other tables

QUEUE = "queue"
QUEUE_SET = "queues"
SYSTEMUSER = "systemuser"
SYSTEMUSER_SET = "systemusers"
TEAM = "team"
TEAM_SET = "teams"
WORKSTREAM = "msdyn_liveworkstream"
WORKSTREAM_SET = "msdyn_liveworkstreams"
