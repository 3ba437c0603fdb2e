// The Function App on a Flex Consumption (FC1) plan: Python, run as the user-assigned identity,
// HTTPS only, no FTP, no basic-auth publishing, every secret behind a Key Vault reference and
// every storage connection identity-based.

param planName string
param appName string
param location string
param tags object

@description('Spread zones for the plan; only some regions offer it for Flex Consumption.')
param zoneRedundant bool

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity: DefaultAzureCredential, host storage and telemetry use it.')
param identityClientId string

@description('Python version of the Functions runtime.')
param pythonVersion string

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Blob container URL Flex Consumption deploys the package to.')
param deploymentContainerUrl string

param storageAccountName string
param queueEndpoint string
param tableEndpoint string
param appInsightsConnectionString string

@description('The app\'s own settings, name -> string value; an empty value is left out (the setting stays unset).')
param settings object

@description('https://<vault>.vault.azure.net/ (with the trailing slash).')
param keyVaultUri string

@description('Key Vault secret name per secret app setting.')
param secretNames object

@description('The secret app settings whose secret exists; each becomes a Key Vault reference.')
param storedSecrets array

// The app settings the code reads. A secret is only ever a Key Vault reference, versionless so a
// new secret version needs no template change; App Service resolves it as the user-assigned identity.
var plainSettings = [
  for item in items(settings): {
    name: item.key
    value: item.value
  }
]
var secretReferences = [
  for setting in storedSecrets: {
    name: setting
    value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames[setting]})'
  }
]

// Host storage, identity-based. accountName serves the host; the service URIs are what the app's
// own queue and table clients read.
var platformSettings = [
  {
    name: 'AzureWebJobsStorage__accountName'
    value: storageAccountName
  }
  {
    name: 'AzureWebJobsStorage__queueServiceUri'
    value: queueEndpoint
  }
  {
    name: 'AzureWebJobsStorage__tableServiceUri'
    value: tableEndpoint
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identityClientId
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsightsConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
  {
    // The queue functions are synchronous; the Python worker's default pool (cores + 4) would
    // run fewer invocations than host.json lets in flight (batchSize 8 + newBatchThreshold 16).
    name: 'PYTHON_THREADPOOL_THREAD_COUNT'
    value: '24'
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy for Flex Consumption exists only in some regions, so it is the zoneRedundant parameter (default false) rather than forced on.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
    zoneRedundant: zoneRedundant
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: OpenCX and Microsoft call the webhooks over the internet; the function key (optionally a Standard Webhooks signature) or Microsoft's bearer token guards them.
  // checkov:skip=CKV_AZURE_17: Neither OpenCX nor the Messaging API presents client certificates; callers authenticate with the function key or a bearer token.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales instances itself (numberOfWorkers does not apply); maximumInstanceCount bounds it.
  // checkov:skip=CKV_AZURE_213: App Service health check would call /api/health without a function key; the availability probe and the health alert in alerts.bicep watch it instead.
  name: appName
  location: location
  // azd finds the app to deploy to by this tag (azure.yaml, service "api").
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    // Key Vault references resolve as the user-assigned identity (there is no system identity).
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE are
      // deprecated on Flex Consumption: functionAppConfig below replaces them.
      appSettings: concat(platformSettings, filter(plainSettings, setting => !empty(setting.value)), secretReferences)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
    }
  }
}

// Publishing goes through Microsoft Entra ID (func, az, azd); user/password credentials are off.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
