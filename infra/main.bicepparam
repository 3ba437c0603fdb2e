// Parameters for main.bicep, read from environment variables so that no value (least of all a
// secret) is written to a file. Works with both deploy paths:
//   az deployment group create -g <rg> --parameters infra/main.bicepparam
//   azd up            (azd exports the values set with `azd env set NAME value`)
// A variable that sets an app setting has that setting's name. Parameters not listed here keep
// their defaults in main.bicep.
using './main.bicep'

// Azure
param namePrefix = readEnvironmentVariable('NAME_PREFIX')
param alertEmail = readEnvironmentVariable('ALERT_EMAIL')
param maximumInstanceCount = int(readEnvironmentVariable('MAXIMUM_INSTANCE_COUNT', '2'))
param healthProbeKey = readEnvironmentVariable('HEALTH_PROBE_KEY', '')

// Dataverse and routing
param dataverseUrl = readEnvironmentVariable('DATAVERSE_URL')
param defaultQueueId = readEnvironmentVariable('DEFAULT_QUEUE_ID')
param workstreamIdSms = readEnvironmentVariable('WORKSTREAM_ID_SMS', '')
param workstreamIdWhatsapp = readEnvironmentVariable('WORKSTREAM_ID_WHATSAPP', '')
param workstreamIdWeb = readEnvironmentVariable('WORKSTREAM_ID_WEB', '')
param deliveryMode = readEnvironmentVariable('DELIVERY_MODE', 'work_item')

// OpenCX
param opencxApiKey = readEnvironmentVariable('OPENCX_API_KEY')
param webhookSecret = readEnvironmentVariable('OPENCX_WEBHOOK_SECRET', '')
param opencxApiUrl = readEnvironmentVariable('OPENCX_API_URL', 'https://api.open.cx')
param opencxOrganizationId = readEnvironmentVariable('OPENCX_ORGANIZATION_ID', '')

// Cases (every channel other than sms, whatsapp and web)
param incidentPriority = int(readEnvironmentVariable('INCIDENT_PRIORITY', '2'))
param incidentOwnerId = readEnvironmentVariable('INCIDENT_OWNER_ID', '')
param incidentOwnerType = readEnvironmentVariable('INCIDENT_OWNER_TYPE', 'user')
param incidentQueueId = readEnvironmentVariable('INCIDENT_QUEUE_ID', '')
param incidentExtraFields = json(readEnvironmentVariable('INCIDENT_EXTRA_FIELDS', '{}'))
param createMissingContacts = bool(readEnvironmentVariable('CREATE_MISSING_CONTACTS', 'true'))

// Budgets and timeouts
param handoffMaxAttempts = int(readEnvironmentVariable('HANDOFF_MAX_ATTEMPTS', '10'))
param handoffMaxAgeSeconds = int(readEnvironmentVariable('HANDOFF_MAX_AGE_SECONDS', '86400'))
param handoffDedupWindowSeconds = int(readEnvironmentVariable('HANDOFF_DEDUP_WINDOW_SECONDS', '900'))
param historyMaxPages = int(readEnvironmentVariable('HISTORY_MAX_PAGES', '20'))
param opencxTimeoutSeconds = int(readEnvironmentVariable('OPENCX_TIMEOUT_SECONDS', '10'))
param dataverseTimeoutSeconds = int(readEnvironmentVariable('DATAVERSE_TIMEOUT_SECONDS', '15'))

// Mode messaging
param messagingApiUrl = readEnvironmentVariable('MESSAGING_API_URL', '')
param messagingChannelId = readEnvironmentVariable('MESSAGING_CHANNEL_ID', '')
param messagingOrganizationId = readEnvironmentVariable('MESSAGING_ORGANIZATION_ID', '')
param messagingTokenScope = readEnvironmentVariable('MESSAGING_TOKEN_SCOPE', '')
param messagingTenantId = readEnvironmentVariable('MESSAGING_TENANT_ID', '')
param messagingWebhookAudience = readEnvironmentVariable('MESSAGING_WEBHOOK_AUDIENCE', '')
param messagingClientId = readEnvironmentVariable('MESSAGING_CLIENT_ID', '')
param messagingWebhookAppId = readEnvironmentVariable('MESSAGING_WEBHOOK_APP_ID', '')
param messagingReconcileSeconds = int(readEnvironmentVariable('MESSAGING_RECONCILE_SECONDS', '300'))
param messagingClientSecret = readEnvironmentVariable('MESSAGING_CLIENT_SECRET', '')
param opencxAgentSender = readEnvironmentVariable('OPENCX_AGENT_SENDER', 'agent')
param concierge = bool(readEnvironmentVariable('CONCIERGE', 'false'))
param afterHours = readEnvironmentVariable('AFTER_HOURS', 'chat')
param conciergeTimeZone = readEnvironmentVariable('CONCIERGE_TIME_ZONE', 'UTC')
param conciergeRefreshSeconds = int(readEnvironmentVariable('CONCIERGE_REFRESH_SECONDS', '120'))
param conciergeTimeoutSeconds = int(readEnvironmentVariable('CONCIERGE_TIMEOUT_SECONDS', '3'))
param conciergeTemplates = readEnvironmentVariable('CONCIERGE_TEMPLATES', '')
param mediaMaxBytes = int(readEnvironmentVariable('MEDIA_MAX_BYTES', '5242880'))
param mediaAllowedHosts = readEnvironmentVariable('MEDIA_ALLOWED_HOSTS', '')
param mediaAllowedTypes = readEnvironmentVariable('MEDIA_ALLOWED_TYPES', '')
param mediaTimeoutSeconds = int(readEnvironmentVariable('MEDIA_TIMEOUT_SECONDS', '20'))
