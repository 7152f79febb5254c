// Service Bus namespace and the five queues the broker uses. Entra ID only (disableLocalAuth):
// the app and operators authenticate with tokens, so no SAS key exists to leak. Standard tier is
// the smallest tier with duplicate detection and sessions.

param name string
param location string
param tags object
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'
@description('Require sessions on pool-commands (per-compute ordering). Must match isSessionsEnabled in function-definitions/pool-commands/function.json.')
param commandSessionsEnabled bool = false
@description('How long an unprocessed command stays valid before it is dead-lettered.')
param commandTimeToLive string = 'P1D'

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: publicNetworkAccess
  }
}

// Commands: the settlement contract (docs/architecture.md) relies on maxDeliveryCount 10 and on
// dead-lettering, so a message is never silently lost. Duplicate detection drops a resend with the
// same MessageId within 10 minutes (the CLI and hooks set MessageId deterministically). The lock is
// the Standard-tier maximum: with the host's 5-minute lock renewal this covers the 10-minute
// functionTimeout before a long invocation's message could be handed out twice.
resource commands 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: 'pool-commands'
  properties: {
    maxDeliveryCount: 10
    lockDuration: 'PT5M'
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: commandTimeToLive
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    requiresSession: commandSessionsEnabled
    enablePartitioning: false
  }
}

// Permanent failures land here with the original message and the error, for a human to read.
// The Studio reads it by peek-lock + unlock (the REST API has no browse), and every look counts
// as a delivery: the limit is Service Bus's maximum so reading never dead-letters a rejection.
resource rejected 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: 'pool-commands-rejected'
  properties: {
    maxDeliveryCount: 2000
    lockDuration: 'PT1M'
    deadLetteringOnMessageExpiration: false
    defaultMessageTimeToLive: 'P14D'
  }
}

resource replies 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: 'pool-replies'
  properties: {
    maxDeliveryCount: 10
    lockDuration: 'PT1M'
    deadLetteringOnMessageExpiration: false
    defaultMessageTimeToLive: 'P7D'
  }
}

// Replies to commands the Studio enqueued (ReplyTo). The Studio peeks them (each look is a
// delivery, hence the high limit) and never consumes them; they expire after a day.
resource studioReplies 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: 'studio-replies'
  properties: {
    maxDeliveryCount: 2000
    lockDuration: 'PT1M'
    deadLetteringOnMessageExpiration: false
    defaultMessageTimeToLive: 'P1D'
  }
}

resource cleanupReports 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: 'cleanup-reports'
  properties: {
    maxDeliveryCount: 10
    lockDuration: 'PT1M'
    deadLetteringOnMessageExpiration: false
    defaultMessageTimeToLive: 'P7D'
  }
}

output id string = namespace.id
output name string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output queueNames array = [
  commands.name
  rejected.name
  replies.name
  studioReplies.name
  cleanupReports.name
]
