// Key Vault for the bridge's secrets: the OpenCX API key and, when given, the webhook signing
// secret and the Messaging API client secret. RBAC only (no access policies), soft delete and
// purge protection on. The app reads each secret through a Key Vault reference, and its identity
// may read those secrets and nothing else in the vault (identity-roles.bicep).

@description('Key Vault name: 3-24 letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object

@description('Secret name per app setting: OPENCX_API_KEY, OPENCX_WEBHOOK_SECRET, MESSAGING_CLIENT_SECRET.')
param secretNames object

@description('The OpenCX API key (OPENCX_API_KEY).')
@secure()
param opencxApiKey string

@description('Optional whsec_<base64> signing secret(s), space-separated during a rotation. Empty: not stored.')
@secure()
param webhookSecret string

@description('Optional Messaging API app registration client secret. Empty: not stored.')
@secure()
param messagingClientSecret string

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

resource apiKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: An expired secret can no longer be read, which would stop every handoff; the key is rotated by a deployment (docs/deploy.md, rotating secrets).
  parent: vault
  name: secretNames.OPENCX_API_KEY
  properties: {
    value: opencxApiKey
    contentType: 'text/plain; OpenCX API key'
    attributes: {
      enabled: true
    }
  }
}

resource signingSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(webhookSecret)) {
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not read the properties of a conditional (if) resource.
  // checkov:skip=CKV_AZURE_41: An expired secret can no longer be read, which would refuse every handoff; the secret is rotated by a deployment (docs/deploy.md, rotating secrets).
  parent: vault
  name: secretNames.OPENCX_WEBHOOK_SECRET
  properties: {
    value: webhookSecret
    contentType: 'text/plain; Standard Webhooks whsec_ secret(s), space-separated'
    attributes: {
      enabled: true
    }
  }
}

resource clientSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(messagingClientSecret)) {
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not read the properties of a conditional (if) resource.
  // checkov:skip=CKV_AZURE_41: An expired secret can no longer be read, which would stop every rep reply; it follows the app registration's own secret expiry (docs/deploy.md).
  parent: vault
  name: secretNames.MESSAGING_CLIENT_SECRET
  properties: {
    value: messagingClientSecret
    contentType: 'text/plain; Entra app registration client secret'
    attributes: {
      enabled: true
    }
  }
}

output name string = vault.name
// Secret URIs are built from it without a version: the app picks up a new secret version without a
// template change.
output vaultUri string = vault.properties.vaultUri
