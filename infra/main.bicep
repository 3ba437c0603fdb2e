// OpenCX -> Dynamics 365 Omnichannel handoff bridge: everything the Function App needs, in one
// resource group deployment. The only manual step left is in Dataverse: registering the app's
// identity as an application user (docs/deploy.md, step 3).
targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

@description('Short prefix for resource names, e.g. "handoff": lowercase letters, digits and single hyphens.')
@minLength(2)
@maxLength(12)
param namePrefix string

@description('Azure region; it must offer Flex Consumption. Defaults to the resource group\'s region.')
param location string = resourceGroup().location

@description('Dataverse environment URL, e.g. https://contoso.crm.dynamics.com (no path).')
param dataverseUrl string

@description('Omnichannel workstream id (msdyn_liveworkstreamid) that new live work items are routed to. OpenCX calls it default_queue_id.')
@minLength(36)
@maxLength(36)
param defaultQueueId string

@description('OpenCX Standard Webhooks signing secret, whsec_<base64>. During a rotation, the new and the old secret separated by a space. Stored only in Key Vault.')
@secure()
param webhookSecret string

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

@description('Queue attempts before a transient Dataverse failure is dead-lettered (HANDOFF_MAX_ATTEMPTS).')
@minValue(1)
@maxValue(100)
param handoffMaxAttempts int = 10

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

// DESIGN section 5: the work queue, its dead-letter queue and the host's poison queue.
var handoffQueueName = 'handoffs'
var queueNames = [
  handoffQueueName
  '${handoffQueueName}-deadletter'
  '${handoffQueueName}-poison'
]
var handoffTableName = 'handoffs'
var deploymentContainerName = 'app-package'
var webhookSecretName = 'opencx-webhook-secret'

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
    tableName: handoffTableName
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
    webhookSecretName: webhookSecretName
    webhookSecretValue: webhookSecret
  }
}

module identityRoles 'modules/identity-roles.bicep' = {
  name: 'identity-roles'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    queueNames: queueNames
    tableName: handoffTableName
    keyVaultName: keyVault.outputs.name
    webhookSecretName: keyVault.outputs.webhookSecretName
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  // Grant first, so the first instance can read its package, secret and storage.
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
    dataverseUrl: dataverseUrl
    defaultQueueId: defaultQueueId
    webhookSecretUri: keyVault.outputs.webhookSecretUri
    handoffQueueName: handoffQueueName
    handoffMaxAttempts: handoffMaxAttempts
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

@description('Where OpenCX posts handoffs. Add the function key as ?code=... or the x-functions-key header.')
output webhookUrl string = 'https://${functionApp.outputs.defaultHostName}/api/handoffs'

output healthUrl string = 'https://${functionApp.outputs.defaultHostName}/api/health'

@description('Object id of the app identity (Azure RBAC).')
output identityPrincipalId string = identity.outputs.principalId

@description('Application (client) id of the app identity: register this one as the Dataverse application user.')
output identityClientId string = identity.outputs.clientId
