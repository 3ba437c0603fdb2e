// Availability probe for GET /api/health. The endpoint needs a function key, so the probe carries
// one in a header; use a key that belongs to the health function only (docs/deploy.md, step 6), so
// the probe can never call the webhook. A standard test is used because a log alert alone stays
// silent when the app is down and nothing calls it.

param name string
param location string
param tags object

@description('Resource id of the Application Insights component that receives the results.')
param appInsightsId string

@description('https://<host>/api/health')
param healthUrl string

@description('Function key of the health function.')
@secure()
param functionKey string

@description('Probe locations (Application Insights availability location ids).')
param probeLocations array = [
  'us-va-ash-azr' // East US
  'us-ca-sjc-azr' // West US
  'us-tx-sn1-azr' // South Central US
  'emea-nl-ams-azr' // West Europe
  'emea-gb-db3-azr' // North Europe
]

resource probe 'Microsoft.Insights/webtests@2022-06-15' = {
  name: name
  location: location
  // The hidden-link tag ties the test to the component, so its results land in availabilityResults.
  tags: union(tags, { 'hidden-link:${appInsightsId}': 'Resource' })
  kind: 'standard'
  properties: {
    SyntheticMonitorId: name
    Name: name
    Description: 'GET /api/health with the health function key; expects 200'
    Enabled: true
    Kind: 'standard'
    Frequency: 300
    Timeout: 30
    RetryEnabled: true
    Locations: [
      for locationId in probeLocations: {
        Id: locationId
      }
    ]
    Request: {
      RequestUrl: healthUrl
      HttpVerb: 'GET'
      ParseDependentRequests: false
      Headers: [
        {
          key: 'x-functions-key'
          value: functionKey
        }
      ]
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      IgnoreHttpStatusCode: false
      SSLCheck: true
      SSLCertRemainingLifetimeCheck: 7
    }
  }
}
