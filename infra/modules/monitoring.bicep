// Log Analytics workspace and a workspace-based Application Insights component that accepts
// only Microsoft Entra ID authenticated telemetry (the app signs in as its managed identity).

param logAnalyticsName string
param appInsightsName string
param location string
param tags object

@description('Days Log Analytics keeps telemetry.')
@minValue(30)
@maxValue(730)
param retentionInDays int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    // No instrumentation-key ingestion: APPLICATIONINSIGHTS_AUTHENTICATION_STRING makes the app
    // send with a token for its identity, which holds Monitoring Metrics Publisher here.
    DisableLocalAuth: true
  }
}

output appInsightsId string = appInsights.id
output appInsightsName string = appInsights.name
// Not a secret: with local auth disabled, the connection string alone cannot ingest anything.
output appInsightsConnectionString string = appInsights.properties.ConnectionString
