// Key Vault for the OpenCX webhook signing secret. RBAC only (no access policies), soft delete
// and purge protection on. The app reads the secret through a Key Vault reference.

@description('Key Vault name: 3-24 letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object

@description('Name of the secret holding OPENCX_WEBHOOK_SECRET.')
param webhookSecretName string

@description('whsec_<base64> signing secret(s), space-separated while a rotation is in progress.')
@secure()
param webhookSecretValue string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: App Service resolves Key Vault references for Flex Consumption apps only from vaults without network restrictions; RBAC on the secret is the gate.
  // checkov:skip=CKV_AZURE_189: Same reason as CKV_AZURE_109: public network access is needed for the Key Vault reference, and only the app's identity may read the secret.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource webhookSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: An expired secret can no longer be read, which would stop every handoff; OpenCX decides when the secret rotates (docs/deploy.md, secret rotation).
  parent: vault
  name: webhookSecretName
  properties: {
    value: webhookSecretValue
    contentType: 'text/plain; Standard Webhooks whsec_ secret(s), space-separated'
    attributes: {
      enabled: true
    }
  }
}

output name string = vault.name
output webhookSecretName string = webhookSecret.name
// Versionless on purpose: the app picks up a new secret version without a template change.
output webhookSecretUri string = webhookSecret.properties.secretUri
