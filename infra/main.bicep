// OpenCX -> Dynamics 365 handoff bridge: everything the Function App needs, in one resource group
// deployment. What is left by hand happens outside Azure: the Dataverse application user
// (docs/deploy.md, step 3) and, for mode messaging, the Dynamics channel setup.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------
// Parameters: Azure
// ---------------------------------------------------------------------------------------------

@description('Short prefix for resource names, e.g. "handoff": lowercase letters, digits and single hyphens.')
@minLength(2)
@maxLength(12)
param namePrefix string

@description('Azure region; it must offer Flex Consumption. Defaults to the resource group\'s region.')
param location string = resourceGroup().location

@description('Most instances Flex Consumption may run. Every instance calls Dataverse as the same application user with up to 24 requests in flight (host.json), and Dataverse service protection allows 52 concurrent requests per user: 2 instances stay under it. Raise it only with a smaller batchSize.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 2

@description('Email address that receives every alert.')
param alertEmail string

@description('Python version of the Functions runtime: the version the project and its tests use (pyproject.toml).')
param pythonVersion string = '3.11'

@description('Memory per instance. 2048 MB is the Flex Consumption default and plenty for this I/O-bound app.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Storage replication. ZRS keeps queued handoffs through the loss of a zone; use LRS in regions without zones.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSku string = 'Standard_ZRS'

@description('Spread the Flex Consumption plan across zones (only in regions that offer it).')
param zoneRedundant bool = false

@description('Days Log Analytics keeps telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Alert when the estimated p95 webhook-to-live-work-item latency exceeds this (ms).')
@minValue(1000)
param p95LatencyThresholdMs int = 30000

@description('Alert when more than this percentage of Dataverse requests are throttled (429).')
@minValue(1)
@maxValue(100)
param dataverseThrottledPercentThreshold int = 5

@description('Function key of the health function. Empty on the first deployment (the function does not exist yet); set it to add the availability probe (docs/deploy.md, step 6).')
@secure()
param healthProbeKey string = ''

@description('Tags for every resource.')
param tags object = {}

// ---------------------------------------------------------------------------------------------
// Parameters: the app's settings (docs/deploy.md lists each with its app setting)
// ---------------------------------------------------------------------------------------------

@description('Dataverse environment URL, e.g. https://contoso.crm.dynamics.com (no path).')
param dataverseUrl string

@description('Omnichannel workstream id (msdyn_liveworkstreamid) for live work items, and the fallback of every channel without a workstream of its own. OpenCX calls it default_queue_id.')
@minLength(36)
@maxLength(36)
param defaultQueueId string

@description('Optional workstream for SMS handoffs (WORKSTREAM_ID_SMS); empty means defaultQueueId.')
@maxLength(36)
param workstreamIdSms string = ''

@description('Optional workstream for WhatsApp handoffs (WORKSTREAM_ID_WHATSAPP); empty means defaultQueueId.')
@maxLength(36)
param workstreamIdWhatsapp string = ''

@description('Optional workstream for web chat handoffs (WORKSTREAM_ID_WEB); empty means defaultQueueId.')
@maxLength(36)
param workstreamIdWeb string = ''

@description('OpenCX API key with chat-sessions:read (and chat-sessions:write in mode messaging). Stored only in Key Vault.')
@secure()
param opencxApiKey string

@description('Optional Standard Webhooks secret(s), whsec_<base64>, space-separated during a rotation. OpenCX documents no signature: when empty, no secret is stored, OPENCX_WEBHOOK_SECRET is not set and the function key alone guards the webhook.')
@secure()
param webhookSecret string = ''

@description('OpenCX API base URL (OPENCX_API_URL).')
param opencxApiUrl string = 'https://api.open.cx'

@description('Optional OpenCX organization id; webhooks of any other organization get 403 (OPENCX_ORGANIZATION_ID).')
param opencxOrganizationId string = ''

@description('Seconds to wait for one OpenCX API answer (OPENCX_TIMEOUT_SECONDS).')
@minValue(1)
@maxValue(120)
param opencxTimeoutSeconds int = 10

@description('How sms, whatsapp and web handoffs reach a rep (DELIVERY_MODE): a live work item through the Dataverse Web API, or a routed conversation through the Omnichannel Messaging API.')
@allowed([
  'work_item'
  'messaging'
])
param deliveryMode string = 'work_item'

@description('prioritycode of the cases created for the other channels (INCIDENT_PRIORITY): 1 high, 2 normal, 3 low.')
@minValue(1)
param incidentPriority int = 2

@description('Optional owner of new cases: a systemuser id, or a team id when incidentOwnerType is team (INCIDENT_OWNER_ID).')
@maxLength(36)
param incidentOwnerId string = ''

@description('Whether incidentOwnerId is a user or a team (INCIDENT_OWNER_TYPE).')
@allowed([
  'user'
  'team'
])
param incidentOwnerType string = 'user'

@description('Optional queue every new case is added to (INCIDENT_QUEUE_ID).')
@maxLength(36)
param incidentQueueId string = ''

@description('Optional extra incident columns merged into every new case (INCIDENT_EXTRA_FIELDS), e.g. {"caseorigincode": 3}.')
param incidentExtraFields object = {}

@description('Create a contact when none matches, because a case needs a customer (CREATE_MISSING_CONTACTS).')
param createMissingContacts bool = true

@description('Queue attempts before a transient failure is dead-lettered; throttling does not count (HANDOFF_MAX_ATTEMPTS).')
@minValue(1)
@maxValue(100)
param handoffMaxAttempts int = 10

@description('A handoff older than this is dead-lettered even while it is throttled (HANDOFF_MAX_AGE_SECONDS).')
@minValue(60)
param handoffMaxAgeSeconds int = 86400

@description('A second webhook for the same conversation within this window is the same handoff (HANDOFF_DEDUP_WINDOW_SECONDS).')
@minValue(0)
param handoffDedupWindowSeconds int = 900

@description('Ceiling of OpenCX history pages read to the end of a session: their order is not documented, so every reader reads on until the last page (HISTORY_MAX_PAGES).')
@minValue(1)
@maxValue(100)
param historyMaxPages int = 20

@description('Seconds to wait for one Dataverse answer (DATAVERSE_TIMEOUT_SECONDS).')
@minValue(1)
@maxValue(120)
param dataverseTimeoutSeconds int = 15

// Mode messaging only (required by the app when deliveryMode is messaging, ignored otherwise).

@description('Mode messaging: https://m-<org id>.<geo>.omnichannelengagementhub.com (MESSAGING_API_URL).')
param messagingApiUrl string = ''

@description('Mode messaging: id of the msdyn_occustommessagingchannel row, the channel-id header (MESSAGING_CHANNEL_ID).')
param messagingChannelId string = ''

@description('Mode messaging: the Dynamics organization id, the organization-id header (MESSAGING_ORGANIZATION_ID).')
param messagingOrganizationId string = ''

@description('Mode messaging: https://<org id without dashes>-c.<zone>.dynamics.com/.default (MESSAGING_TOKEN_SCOPE).')
param messagingTokenScope string = ''

@description('Mode messaging: tenant whose keys sign the tokens Microsoft sends to /api/messaging (MESSAGING_TENANT_ID).')
param messagingTenantId string = ''

@description('Mode messaging: audience of those tokens, the app registration\'s id or Application ID URI (MESSAGING_WEBHOOK_AUDIENCE).')
param messagingWebhookAudience string = ''

@description('Mode messaging, optional: app registration the bridge signs in as for the Messaging API, through a federated credential that trusts this app\'s identity (MESSAGING_CLIENT_ID).')
param messagingClientId string = ''

@description('Mode messaging: the only app(s) that may call /api/messaging, the channel row\'s msdyn_appid; several separated by spaces for a rotation. Empty: messagingClientId, which must then be set (MESSAGING_WEBHOOK_APP_ID).')
param messagingWebhookAppId string = ''

@description('Mode messaging, optional fallback to the federated credential: that app registration\'s client secret. Stored only in Key Vault.')
@secure()
param messagingClientSecret string = ''

@description('Mode messaging: an open conversation is read for rep messages the webhook lost when its last read, or its start, is older than this (MESSAGING_RECONCILE_SECONDS); the timer looks every minute.')
@minValue(0)
@maxValue(86400)
param messagingReconcileSeconds int = 300

@description('Mode messaging: the OpenCX "sender" value for a message the rep wrote (OPENCX_AGENT_SENDER).')
param opencxAgentSender string = 'agent'

@description('Tell live-chat customers when the team is closed, and their place in line (CONCIERGE). Needs the Omnichannel administrator role on the application user: docs/concierge.md.')
param concierge bool = false

@description('Out of hours with CONCIERGE on: create the live chat as usual plus a notice (chat), or an incident instead with its case number in the notice (AFTER_HOURS).')
@allowed([
  'chat'
  'incident'
])
param afterHours string = 'chat'

@description('The IANA time zone the notices write the next opening in (CONCIERGE_TIME_ZONE).')
param conciergeTimeZone string = 'UTC'

@description('Mode messaging: the shortest interval between two position refreshes of a waiting conversation (CONCIERGE_REFRESH_SECONDS).')
@minValue(30)
@maxValue(3600)
param conciergeRefreshSeconds int = 120

@description('The bound of the availability call at handoff, in seconds; past it the handoff goes on as without the concierge (CONCIERGE_TIMEOUT_SECONDS).')
@minValue(1)
@maxValue(10)
param conciergeTimeoutSeconds int = 3

@description('Template overrides, JSON: {"es": {"queued": "..."}}; empty keeps the shipped wording (CONCIERGE_TEMPLATES).')
param conciergeTemplates string = ''

@description('The largest file the bridge passes on, in bytes; 0 passes none, each becomes a text notice (MEDIA_MAX_BYTES). Keep it at or below the org\'s attachment limits.')
@minValue(0)
@maxValue(104857600)
param mediaMaxBytes int = 5242880

@description('Hosts files may be fetched from besides the Dataverse, Messaging API and OpenCX hosts: comma-separated host, host:port or *.domain (MEDIA_ALLOWED_HOSTS).')
param mediaAllowedHosts string = ''

@description('MIME types passed on besides images, PDF and plain text: comma-separated type/subtype or type/* (MEDIA_ALLOWED_TYPES).')
param mediaAllowedTypes string = ''

@description('The time one file may take to fetch, in seconds (MEDIA_TIMEOUT_SECONDS).')
@minValue(1)
@maxValue(120)
param mediaTimeoutSeconds int = 20

// ---------------------------------------------------------------------------------------------
// Names and fixed values
// ---------------------------------------------------------------------------------------------

// Globally unique names get a suffix that is stable for this resource group and prefix.
var suffix = take(uniqueString(subscription().id, resourceGroup().id, namePrefix), 6)
var compactPrefix = toLower(replace(namePrefix, '-', ''))

var names = {
  identity: 'id-${namePrefix}'
  storage: 'st${take(compactPrefix, 16)}${suffix}'
  keyVault: 'kv-${namePrefix}-${suffix}'
  logAnalytics: 'log-${namePrefix}'
  appInsights: 'appi-${namePrefix}'
  plan: 'plan-${namePrefix}'
  functionApp: 'func-${namePrefix}-${suffix}'
  healthProbe: 'webtest-${namePrefix}-health'
}

// Each work queue comes with its dead-letter queue and the host's poison queue. The app may touch
// exactly these queues and tables (identity-roles.bicep grants each one on its own).
var handoffQueueName = 'handoffs'
var messagingQueueName = 'messaging'
var queueNames = [
  handoffQueueName
  '${handoffQueueName}-deadletter'
  '${handoffQueueName}-poison'
  messagingQueueName
  '${messagingQueueName}-deadletter'
  '${messagingQueueName}-poison'
]
var handoffTableName = 'handoffs'
var messagingTableName = 'messaging'
var tableNames = [
  handoffTableName
  messagingTableName
]
var deploymentContainerName = 'app-package'

// Secrets live in Key Vault only (app setting -> secret name), and the app reads each through a
// Key Vault reference. An optional secret left empty is neither stored nor set: the app then
// behaves as if it had never been configured (for the webhook secret: no signature required).
var secretNames = {
  OPENCX_API_KEY: 'opencx-api-key'
  OPENCX_WEBHOOK_SECRET: 'opencx-webhook-secret'
  MESSAGING_CLIENT_SECRET: 'messaging-client-secret'
}
var optionalSecrets = concat(empty(webhookSecret) ? [] : ['OPENCX_WEBHOOK_SECRET'], empty(messagingClientSecret) ? [] : ['MESSAGING_CLIENT_SECRET'])
var storedSecrets = concat(['OPENCX_API_KEY'], optionalSecrets)
var storedSecretNames = [for setting in storedSecrets: secretNames[setting]]

// Every other setting the app reads. Values are strings; an empty one is left out of the app
// settings, so the app applies its own default (an unset optional setting).
var appSettings = {
  DATAVERSE_URL: dataverseUrl
  DATAVERSE_TIMEOUT_SECONDS: string(dataverseTimeoutSeconds)
  DEFAULT_QUEUE_ID: defaultQueueId
  WORKSTREAM_ID_SMS: workstreamIdSms
  WORKSTREAM_ID_WHATSAPP: workstreamIdWhatsapp
  WORKSTREAM_ID_WEB: workstreamIdWeb
  OPENCX_API_URL: opencxApiUrl
  OPENCX_ORGANIZATION_ID: opencxOrganizationId
  OPENCX_TIMEOUT_SECONDS: string(opencxTimeoutSeconds)
  DELIVERY_MODE: deliveryMode
  INCIDENT_PRIORITY: string(incidentPriority)
  INCIDENT_OWNER_ID: incidentOwnerId
  INCIDENT_OWNER_TYPE: incidentOwnerType
  INCIDENT_QUEUE_ID: incidentQueueId
  INCIDENT_EXTRA_FIELDS: empty(incidentExtraFields) ? '' : string(incidentExtraFields)
  // ARM's string(true) is 'True'; spell the boolean the way the app documents it.
  CREATE_MISSING_CONTACTS: createMissingContacts ? 'true' : 'false'
  HANDOFF_QUEUE: handoffQueueName
  HANDOFF_STATUS_TABLE: handoffTableName
  HANDOFF_MAX_ATTEMPTS: string(handoffMaxAttempts)
  HANDOFF_MAX_AGE_SECONDS: string(handoffMaxAgeSeconds)
  HANDOFF_DEDUP_WINDOW_SECONDS: string(handoffDedupWindowSeconds)
  HISTORY_MAX_PAGES: string(historyMaxPages)
  MESSAGING_QUEUE: messagingQueueName
  MESSAGING_TABLE: messagingTableName
  MESSAGING_API_URL: messagingApiUrl
  MESSAGING_CHANNEL_ID: messagingChannelId
  MESSAGING_ORGANIZATION_ID: messagingOrganizationId
  MESSAGING_TOKEN_SCOPE: messagingTokenScope
  MESSAGING_TENANT_ID: messagingTenantId
  MESSAGING_WEBHOOK_AUDIENCE: messagingWebhookAudience
  MESSAGING_CLIENT_ID: messagingClientId
  MESSAGING_WEBHOOK_APP_ID: messagingWebhookAppId
  MESSAGING_RECONCILE_SECONDS: string(messagingReconcileSeconds)
  OPENCX_AGENT_SENDER: opencxAgentSender
  CONCIERGE: concierge ? 'true' : 'false'
  AFTER_HOURS: afterHours
  CONCIERGE_TIME_ZONE: conciergeTimeZone
  CONCIERGE_REFRESH_SECONDS: string(conciergeRefreshSeconds)
  CONCIERGE_TIMEOUT_SECONDS: string(conciergeTimeoutSeconds)
  CONCIERGE_TEMPLATES: conciergeTemplates
  MEDIA_MAX_BYTES: string(mediaMaxBytes)
  MEDIA_ALLOWED_HOSTS: mediaAllowedHosts
  MEDIA_ALLOWED_TYPES: mediaAllowedTypes
  MEDIA_TIMEOUT_SECONDS: string(mediaTimeoutSeconds)
}

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: tags
    skuName: storageSku
    queueNames: queueNames
    tableNames: tableNames
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    tags: tags
    retentionInDays: logRetentionDays
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  params: {
    name: names.keyVault
    location: location
    tags: tags
    secretNames: secretNames
    opencxApiKey: opencxApiKey
    webhookSecret: webhookSecret
    messagingClientSecret: messagingClientSecret
  }
}

module identityRoles 'modules/identity-roles.bicep' = {
  name: 'identity-roles'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    queueNames: queueNames
    tableNames: tableNames
    keyVaultName: keyVault.outputs.name
    secretNames: storedSecretNames
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  // Grant first, so the first instance can read its package, secrets and storage.
  dependsOn: [
    identityRoles
  ]
  params: {
    planName: names.plan
    appName: names.functionApp
    location: location
    tags: tags
    zoneRedundant: zoneRedundant
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    pythonVersion: pythonVersion
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    storageAccountName: storage.outputs.name
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    settings: appSettings
    keyVaultUri: keyVault.outputs.vaultUri
    secretNames: secretNames
    storedSecrets: storedSecrets
  }
}

module healthProbe 'modules/health-probe.bicep' = if (!empty(healthProbeKey)) {
  name: 'health-probe'
  params: {
    name: names.healthProbe
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    healthUrl: 'https://${functionApp.outputs.defaultHostName}/api/health'
    functionKey: healthProbeKey
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: namePrefix
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    alertEmail: alertEmail
    handoffQueueName: handoffQueueName
    messagingQueueName: messagingQueueName
    healthProbeName: names.healthProbe
    p95LatencyThresholdMs: p95LatencyThresholdMs
    dataverseThrottledPercentThreshold: dataverseThrottledPercentThreshold
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    displayName: 'Handoff bridge operations (${namePrefix})'
  }
}

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

output functionAppName string = functionApp.outputs.name

@description('Where OpenCX posts its webhooks. Add the function key as ?code=... (docs/deploy.md, step 5).')
output webhookUrl string = 'https://${functionApp.outputs.defaultHostName}/api/handoffs'

@description('Mode messaging: the custom messaging channel\'s msdyn_webhookurl (Microsoft appends /v3/conversations/...).')
output messagingWebhookUrl string = 'https://${functionApp.outputs.defaultHostName}/api/messaging'

output healthUrl string = 'https://${functionApp.outputs.defaultHostName}/api/health'

@description('Object id of the app identity (Azure RBAC).')
output identityPrincipalId string = identity.outputs.principalId

@description('Application (client) id of the app identity: register this one as the Dataverse application user.')
output identityClientId string = identity.outputs.clientId
