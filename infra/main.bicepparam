// Parameters for main.bicep, read from environment variables so that no value (least of all the
// webhook secret) is written to a file. Works with both deploy paths:
//   az deployment group create -g <rg> --parameters infra/main.bicepparam
//   azd up            (azd exports the values set with `azd env set NAME value`)
// Parameters not listed here keep their defaults in main.bicep.
using './main.bicep'

param namePrefix = readEnvironmentVariable('NAME_PREFIX')
param dataverseUrl = readEnvironmentVariable('DATAVERSE_URL')
param defaultQueueId = readEnvironmentVariable('DEFAULT_QUEUE_ID')
param webhookSecret = readEnvironmentVariable('OPENCX_WEBHOOK_SECRET')
param alertEmail = readEnvironmentVariable('ALERT_EMAIL')
param maximumInstanceCount = int(readEnvironmentVariable('MAXIMUM_INSTANCE_COUNT', '2'))
param healthProbeKey = readEnvironmentVariable('HEALTH_PROBE_KEY', '')
