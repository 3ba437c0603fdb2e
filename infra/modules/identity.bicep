// The one identity the app runs as: storage, Key Vault, Application Insights and Dataverse.
// User-assigned, so that it exists before the app does: its roles are granted, and it can be
// registered as a Dataverse application user, before the first instance starts, and it survives
// the app being deleted and recreated.

@description('Name of the user-assigned managed identity.')
param name string

param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
