// Operations workbook over Application Insights: handoff outcomes, end-to-end latency and
// Dataverse status codes, from the metrics and log records the code emits.

param location string
param tags object

@description('Resource id of the Application Insights component the workbook reads.')
param appInsightsId string

param displayName string

var timeRange = {
  durationMs: 86400000
}

var outcomesQuery = '''
customMetrics
| where name in ("handoffs.accepted", "handoffs.created", "handoffs.retried", "handoffs.dead_lettered")
| summarize handoffs = sum(valueSum) by name, bin(timestamp, 15m)
'''

var totalsQuery = '''
customMetrics
| where name in ("handoffs.accepted", "handoffs.created", "handoffs.retried", "handoffs.dead_lettered")
| summarize total = sum(valueSum) by name
| order by name asc
'''

// Histograms reach Application Insights pre-aggregated per interval (sum, count, min, max):
// the average is exact, the percentiles are upper bounds (each handoff counted at its interval's max).
var latencyQuery = '''
customMetrics
| where name == "handoff.e2e_latency_ms"
| summarize avgMs = sum(valueSum) / sum(valueCount),
    p50UpperBoundMs = percentilew(valueMax, 50, toint(valueCount)),
    p95UpperBoundMs = percentilew(valueMax, 95, toint(valueCount)),
    p99UpperBoundMs = percentilew(valueMax, 99, toint(valueCount)),
    maxMs = max(valueMax)
    by bin(timestamp, 15m)
'''

var dataverseStatusQuery = '''
customMetrics
| where name == "dataverse.request_ms"
| extend status = tostring(customDimensions.status)
| summarize requests = sum(valueCount) by status, bin(timestamp, 15m)
'''

var deadLettersQuery = '''
traces
| where message startswith "handoff.dead_lettered" or tostring(customDimensions.event) == "handoff.dead_lettered"
| project timestamp,
    handoffId = tostring(customDimensions.handoffId),
    sessionId = tostring(customDimensions.sessionId),
    channel = tostring(customDimensions.channel),
    attempt = tostring(customDimensions.attempt),
    message
| order by timestamp desc
'''

var timeRangeParameters = {
  type: 9
  name: 'parameters'
  content: {
    version: 'KqlParameterItem/1.0'
    style: 'pills'
    queryType: 0
    resourceType: 'microsoft.insights/components'
    parameters: [
      {
        id: '7e0b6a0c-3f4e-4d55-9d43-2f3c1d9a8b10'
        version: 'KqlParameterItem/1.0'
        name: 'TimeRange'
        label: 'Time range'
        type: 4
        isRequired: true
        value: timeRange
        typeSettings: {
          allowCustom: true
          selectableValues: [
            {
              durationMs: 3600000
            }
            {
              durationMs: 14400000
            }
            {
              durationMs: 86400000
            }
            {
              durationMs: 604800000
            }
          ]
        }
      }
    ]
  }
}

var workbookContent = {
  version: 'Notebook/1.0'
  items: [
    timeRangeParameters
    {
      type: 3
      name: 'Handoffs: accepted, created, retried, dead-lettered'
      content: {
        version: 'KqlItem/1.0'
        title: 'Handoffs: accepted, created, retried, dead-lettered'
        query: outcomesQuery
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'timechart'
        timeContext: timeRange
        timeContextFromParameter: 'TimeRange'
      }
    }
    {
      type: 3
      name: 'Totals in the time range'
      content: {
        version: 'KqlItem/1.0'
        title: 'Totals in the time range'
        query: totalsQuery
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'table'
        timeContext: timeRange
        timeContextFromParameter: 'TimeRange'
      }
    }
    {
      type: 3
      name: 'End-to-end latency (webhook to live work item), ms'
      content: {
        version: 'KqlItem/1.0'
        title: 'End-to-end latency (webhook to live work item), ms'
        query: latencyQuery
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'timechart'
        timeContext: timeRange
        timeContextFromParameter: 'TimeRange'
      }
    }
    {
      type: 3
      name: 'Dataverse requests by HTTP status'
      content: {
        version: 'KqlItem/1.0'
        title: 'Dataverse requests by HTTP status'
        query: dataverseStatusQuery
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'barchart'
        timeContext: timeRange
        timeContextFromParameter: 'TimeRange'
      }
    }
    {
      type: 3
      name: 'Dead-lettered handoffs'
      content: {
        version: 'KqlItem/1.0'
        title: 'Dead-lettered handoffs'
        query: deadLettersQuery
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'table'
        timeContext: timeRange
        timeContextFromParameter: 'TimeRange'
      }
    }
  ]
  fallbackResourceIds: [
    appInsightsId
  ]
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID; derive it so a redeploy updates the same workbook.
  name: guid(resourceGroup().id, appInsightsId, 'handoff-operations')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: appInsightsId
    version: 'Notebook/1.0'
    serializedData: string(workbookContent)
  }
}

output id string = workbook.id
