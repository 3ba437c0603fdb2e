// Alerts that need a person, emailed through one action group. Each is a log search alert over
// the Application Insights tables the code and the Functions host write to. Every query keeps a
// timestamp column, which log alerts need to bin the results:
//   customMetrics: handoffs.accepted/created/retried/dead_lettered, relay.* (counters),
//                  handoff.e2e_latency_ms and dataverse.request_ms (histograms, attribute status)
//   traces:        one record per event; dimensions handoffId, sessionId, channel, attempt, outcome
//   requests / availabilityResults: the health endpoint and its availability probe

param namePrefix string
param location string
param tags object

@description('Resource id of the Application Insights component the rules query.')
param appInsightsId string

@description('Address that receives every alert.')
param alertEmail string

@description('The work queue; its poison queue is <name>-poison.')
param handoffQueueName string

@description('The messaging relay queue (mode messaging); its poison queue is <name>-poison.')
param messagingQueueName string

@description('Name of the availability probe (health-probe.bicep), which may not be deployed yet.')
param healthProbeName string

@description('Alert when the estimated p95 end-to-end handoff latency exceeds this many milliseconds.')
param p95LatencyThresholdMs int

@description('Alert when more than this percentage of Dataverse requests answer 429.')
param dataverseThrottledPercentThreshold int

// Below these volumes a percentile or a rate says more about noise than about the service.
var minHandoffsForLatency = 5
var minDataverseRequestsForRate = 20

// Both the code's own dead-letter record and the host moving a message to the poison queue
// (a crash, or a message the code could not even parse) count as a dead-lettered handoff.
var deadLetteredQueryTemplate = '''
traces
| where message startswith "handoff.dead_lettered"
    or tostring(customDimensions.event) == "handoff.dead_lettered"
    or message contains "Moving message to queue '__POISON_QUEUE__'"
| project timestamp, message,
    handoffId = tostring(customDimensions.handoffId),
    channel = tostring(customDimensions.channel),
    attempt = tostring(customDimensions.attempt)
'''
var deadLetteredQuery = replace(deadLetteredQueryTemplate, '__POISON_QUEUE__', '${handoffQueueName}-poison')

// The relay's twin: a rep's or a customer's message that will not arrive (its own dead-letter record,
// or the host poisoning a relay message). Same severity: a person is not being heard.
var relayDeadLetteredQueryTemplate = '''
traces
| where message startswith "relay.dead_lettered"
    or tostring(customDimensions.event) == "relay.dead_lettered"
    or message contains "Moving message to queue '__POISON_QUEUE__'"
| project timestamp, message,
    conversationId = tostring(customDimensions.conversationId),
    direction = tostring(customDimensions.direction),
    seq = tostring(customDimensions.seq)
'''
var relayDeadLetteredQuery = replace(relayDeadLetteredQueryTemplate, '__POISON_QUEUE__', '${messagingQueueName}-poison')

// Unhealthy when the probe fails from two or more locations (one location alone is usually the
// network), or when /api/health itself answers 5xx to anyone (it answers 503 when unhealthy).
var healthFailingQueryTemplate = '''
let probe = availabilityResults
| where name == "__PROBE__"
| summarize failedLocations = dcountif(location, tostring(success) !in~ ("true", "1")), timestamp = max(timestamp)
| where failedLocations >= 2
| project timestamp, reason = strcat("availability probe failed from ", failedLocations, " locations");
let endpoint = requests
| where url has "/api/health" and toint(resultCode) >= 500
| summarize failures = count(), timestamp = max(timestamp)
| where failures > 0
| project timestamp, reason = strcat("/api/health answered 5xx ", failures, " times");
union probe, endpoint
'''
var healthFailingQuery = replace(healthFailingQueryTemplate, '__PROBE__', healthProbeName)

// The exporter pre-aggregates histograms (sum, count, min, max per interval), so exact
// percentiles are gone. Counting every handoff of an interval at that interval's maximum gives
// an upper bound of the true p95: the alert can fire early, never late.
var latencyQueryTemplate = '''
customMetrics
| where name == "handoff.e2e_latency_ms"
| summarize handoffs = sum(valueCount), p95UpperBoundMs = percentilew(valueMax, 95, toint(valueCount)),
    timestamp = max(timestamp)
| where handoffs >= __MIN_HANDOFFS__
| project timestamp, p95UpperBoundMs
'''
var latencyQuery = replace(latencyQueryTemplate, '__MIN_HANDOFFS__', string(minHandoffsForLatency))

var dataverseThrottledQueryTemplate = '''
customMetrics
| where name == "dataverse.request_ms"
| summarize requests = sum(valueCount), throttled = sumif(valueCount, tostring(customDimensions.status) == "429"),
    timestamp = max(timestamp)
| where requests >= __MIN_REQUESTS__
| project timestamp, throttledPercent = 100.0 * throttled / requests
'''
var dataverseThrottledQuery = replace(dataverseThrottledQueryTemplate, '__MIN_REQUESTS__', string(minDataverseRequestsForRate))

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take('handoff-${namePrefix}', 12)
    enabled: true
    emailReceivers: [
      {
        name: 'operations'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource deadLettered 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-handoff-dead-lettered'
  location: location
  tags: tags
  properties: {
    displayName: 'Handoff dead-lettered'
    description: 'A handoff reached handoffs-deadletter or the poison queue: a customer was not connected. Replay it after fixing the cause (docs/deploy.md).'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT10M'
    criteria: {
      allOf: [
        {
          query: deadLetteredQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource relayDeadLettered 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-relay-dead-lettered'
  location: location
  tags: tags
  properties: {
    displayName: 'Relay message dead-lettered'
    description: 'A relay message (rep to customer or customer to rep, mode messaging) reached messaging-deadletter or the poison queue: someone was not heard. Replay it after fixing the cause (docs/operations.md).'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT10M'
    criteria: {
      allOf: [
        {
          query: relayDeadLetteredQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource healthFailing 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-health-failing'
  location: location
  tags: tags
  properties: {
    displayName: 'Health endpoint failing'
    description: 'GET /api/health fails from the availability probe or answers 5xx: new handoffs may not be accepted or delivered.'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT10M'
    criteria: {
      allOf: [
        {
          query: healthFailingQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource latencyHigh 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-handoff-latency-p95'
  location: location
  tags: tags
  properties: {
    displayName: 'Handoff p95 end-to-end latency high'
    description: 'Estimated p95 time from webhook to live work item is above the threshold: customers wait too long for a rep.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: latencyQuery
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'p95UpperBoundMs'
          operator: 'GreaterThan'
          threshold: p95LatencyThresholdMs
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource dataverseThrottled 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-dataverse-throttled'
  location: location
  tags: tags
  properties: {
    displayName: 'Dataverse throttling (429) rate high'
    description: 'Dataverse service protection limits are rejecting requests: handoffs are delayed. Lower maximumInstanceCount or ask for higher limits.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: dataverseThrottledQuery
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'throttledPercent'
          operator: 'GreaterThan'
          threshold: dataverseThrottledPercentThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
