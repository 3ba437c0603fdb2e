// Host storage, the bridge's queues and tables, and the Flex Consumption deployment container.
// Microsoft Entra ID only: shared keys are off, so no connection string with a key can exist.

@description('Storage account name: 3-24 lowercase letters and digits, globally unique.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object

@description('Replication. ZRS keeps queued handoffs through the loss of a zone.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string

@description('Queues the bridge uses: each work queue with its dead-letter queue and the host\'s poison queue.')
param queueNames array

@description('Tables the bridge uses: handoff outcomes, and the messaging map of OpenCX session to Dynamics conversation.')
param tableNames array

@description('Blob container Flex Consumption deploys the app package to.')
param deploymentContainerName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Flex Consumption without VNet integration reaches storage over its public endpoint, so a default-deny firewall would lock the app out; Entra ID RBAC is the gate.
  // checkov:skip=CKV_AZURE_59: Same reason as CKV_AZURE_35: no private endpoint in this design, access is Entra ID only (shared keys disabled).
  // checkov:skip=CKV_AZURE_206: Geo-replication is a parameter (skuName, default Standard_ZRS): queue and table data is short-lived and zone redundancy covers it; GRS/GZRS remain allowed.
  // checkov:skip=CKV_AZURE_43: The name is a module parameter that checkov cannot evaluate; main.bicep builds it from lowercase letters and digits within 24 characters.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

// Created here rather than on first use, so that role assignments can be scoped to each queue.
resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

// Created here for the same reason as the queues.
resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainer.name}'
