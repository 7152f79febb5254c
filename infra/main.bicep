// poolbroker: everything a subscription needs to run the broker, keyless.
//
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.bicepparam
//
// Creates: a user-assigned identity, Log Analytics + Application Insights, host storage (no
// shared keys), a Service Bus namespace (Entra ID only) with pool-commands, pool-commands-rejected,
// pool-replies and cleanup-reports, a Key Vault for the pipeline-events webhook secret, the
// Function App (Flex Consumption by default, Elastic Premium as an option) and every role
// assignment the app identity needs, including on Azure ML / Synapse / identity resources in other
// resource groups. See docs/deploy.md.

targetScope = 'resourceGroup'

@description('Short lower-case prefix for resource names (letters and digits).')
@minLength(3)
@maxLength(11)
param namePrefix string = 'poolbroker'

param location string = resourceGroup().location

param tags object = {}

@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string = 'FlexConsumption'

@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSku string = 'EP1'

@minValue(40)
@maxValue(1000)
param flexMaximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param flexInstanceMemoryMB int = 2048

@description('Azure ML workspace resource ids poolbroker may attach pools to and submit jobs in. May live in other resource groups or subscriptions (same tenant).')
param amlWorkspaceIds array = []

@description('Synapse workspace resource ids whose Spark pools get attached.')
param synapseWorkspaceIds array = []

@description('User-assigned identity resource ids that commands may put on attached computes.')
param attachableIdentityIds array = []

@allowed([
  'Custom'
  'BuiltIn'
  'Contributor'
])
@description('How the app identity is authorised on the targets; see docs/deploy.md ("Least privilege on Azure ML").')
param amlRoleMode string = 'Custom'

@description('POOLBROKER_DEFAULT_WORKSPACE: workspace used when a command names none (empty: first of amlWorkspaceIds).')
param defaultWorkspaceId string = ''

@description('POOLBROKER_ALLOWED_SCOPES: comma-separated ARM id prefixes the broker may touch (empty: exactly amlWorkspaceIds).')
param allowedScopes string = ''

@description('POOLBROKER_CLEANUP_SCHEDULE: NCRONTAB (six fields) for the workspace-cleanup timer.')
param cleanupSchedule string = '0 */15 * * * *'

@description('Require sessions on pool-commands; also set isSessionsEnabled in function-definitions/pool-commands/function.json.')
param commandSessionsEnabled bool = false

@allowed([
  'Enabled'
  'Disabled'
])
@description('Public network access of Service Bus, storage and Key Vault. Disabled only works with VNet integration and private endpoints, which this template does not create.')
param dataPublicNetworkAccess string = 'Enabled'

@allowed([
  'Enabled'
  'Disabled'
])
@description('Inbound public access to the Function App (needed by the pipeline-events webhook).')
param appPublicNetworkAccess string = 'Enabled'

@description('Optional object id of an operator (user or group): Service Bus Data Sender + Receiver (poolbroker send --wait) and Key Vault Secrets Officer (set the webhook secret).')
param operatorPrincipalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

@description('OTLP/HTTP base endpoint for traces and metrics (e.g. an OpenTelemetry Collector that forwards to Application Insights). Empty: no OTLP export.')
param otlpEndpoint string = ''

@description('Extra app settings merged last (name to value).')
param extraAppSettings object = {}
@description('Studio page: client id of an Entra ID app registration for App Service Authentication (docs/studio.md). Empty: no sign-in is configured and the Studio is off.')
param studioAuthClientId string = ''
@description('Studio page: comma-separated group object ids and/or app role values allowed to use it (POOLBROKER_STUDIO_ALLOWED). Empty: everyone is refused.')
param studioAllowed string = ''

var suffix = take(uniqueString(resourceGroup().id, namePrefix), 8)
var cleanPrefix = toLower(replace(namePrefix, '-', ''))
var names = {
  identity: 'id-${namePrefix}-${suffix}'
  logAnalytics: 'log-${namePrefix}-${suffix}'
  appInsights: 'appi-${namePrefix}-${suffix}'
  storage: take('st${cleanPrefix}${suffix}', 24)
  serviceBus: 'sb-${namePrefix}-${suffix}'
  keyVault: take('kv-${cleanPrefix}-${suffix}', 24)
  plan: 'plan-${namePrefix}-${suffix}'
  functionApp: 'func-${namePrefix}-${suffix}'
  deploymentContainer: 'app-package'
  webhookSecretName: 'pipeline-events-hmac-key'
  studioFormKeySecretName: 'studio-form-key'
  internalKeySecretName: 'broker-internal-key'
}

var allTags = union(tags, {
  'app': 'poolbroker'
})

module identity 'modules/identity.bicep' = {
  name: 'poolbroker-identity'
  params: {
    name: names.identity
    location: location
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'poolbroker-monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    tags: allTags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'poolbroker-storage'
  params: {
    name: names.storage
    location: location
    tags: allTags
    deploymentContainerName: names.deploymentContainer
    publicNetworkAccess: dataPublicNetworkAccess
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'poolbroker-servicebus'
  params: {
    name: names.serviceBus
    location: location
    tags: allTags
    publicNetworkAccess: dataPublicNetworkAccess
    commandSessionsEnabled: commandSessionsEnabled
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'poolbroker-keyvault'
  params: {
    name: names.keyVault
    location: location
    tags: allTags
    publicNetworkAccess: dataPublicNetworkAccess
    webhookSecretName: names.webhookSecretName
  }
}

module appRoles 'modules/app-roles.bicep' = {
  name: 'poolbroker-app-roles'
  params: {
    principalId: identity.outputs.principalId
    serviceBusName: serviceBus.outputs.name
    storageName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    keyVaultName: keyVault.outputs.name
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
  }
}

// Target resources may live in other resource groups or subscriptions: one small deployment per
// target, scoped to the target's resource group.
module amlAccess 'modules/aml-workspace-access.bicep' = [
  for (workspaceId, i) in amlWorkspaceIds: {
    name: 'poolbroker-aml-${i}-${take(uniqueString(workspaceId), 6)}'
    scope: resourceGroup(split(workspaceId, '/')[2], split(workspaceId, '/')[4])
    params: {
      workspaceId: workspaceId
      principalId: identity.outputs.principalId
      roleMode: amlRoleMode
    }
  }
]

module synapseAccess 'modules/synapse-workspace-access.bicep' = [
  for (synapseWorkspaceId, i) in synapseWorkspaceIds: {
    name: 'poolbroker-synapse-${i}-${take(uniqueString(synapseWorkspaceId), 6)}'
    scope: resourceGroup(split(synapseWorkspaceId, '/')[2], split(synapseWorkspaceId, '/')[4])
    params: {
      synapseWorkspaceId: synapseWorkspaceId
      principalId: identity.outputs.principalId
      roleMode: amlRoleMode
    }
  }
]

module identityAccess 'modules/identity-access.bicep' = [
  for (identityId, i) in attachableIdentityIds: {
    name: 'poolbroker-uai-${i}-${take(uniqueString(identityId), 6)}'
    scope: resourceGroup(split(identityId, '/')[2], split(identityId, '/')[4])
    params: {
      identityId: identityId
      principalId: identity.outputs.principalId
    }
  }
]

var clientId = identity.outputs.clientId

var baseSettings = {
  // Host storage over the app identity (no AzureWebJobsStorage connection string).
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: clientId
  // "connection": "ServiceBusConnection" in function.json resolves to these.
  ServiceBusConnection__fullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: clientId
  // The broker's own ARM and Service Bus calls (azure_identity ManagedIdentityCredential).
  AZURE_CLIENT_ID: clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${clientId};Authorization=AAD'
  POOLBROKER_DEFAULT_WORKSPACE: !empty(defaultWorkspaceId) ? defaultWorkspaceId : (empty(amlWorkspaceIds) ? '' : first(amlWorkspaceIds))
  POOLBROKER_ALLOWED_SCOPES: !empty(allowedScopes) ? allowedScopes : join(amlWorkspaceIds, ',')
  POOLBROKER_CLEANUP_SCHEDULE: cleanupSchedule
  POOLBROKER_COMMANDS_QUEUE: 'pool-commands'
  POOLBROKER_REPLY_QUEUE: 'pool-replies'
  POOLBROKER_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.webhookSecretUri})'
  // Signs the follow-ups the broker sends itself; every instance must share it (docs/reliability.md).
  POOLBROKER_INTERNAL_KEY: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/${names.internalKeySecretName})'
  OTEL_SERVICE_NAME: 'poolbroker'
}

// The Studio is on only behind App Service Authentication; its form-token key (shared by every
// instance) is a Key Vault secret you set, like the webhook secret (docs/studio.md).
var studioSettings = empty(studioAuthClientId) ? {
  POOLBROKER_STUDIO: 'off'
} : {
  POOLBROKER_STUDIO: 'entra'
  POOLBROKER_STUDIO_ALLOWED: studioAllowed
  POOLBROKER_STUDIO_FORM_KEY: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/${names.studioFormKeySecretName})'
}

var otlpSettings = empty(otlpEndpoint) ? {} : {
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'poolbroker-functionapp'
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: allTags
    hostingPlan: hostingPlan
    premiumSku: premiumSku
    flexMaximumInstanceCount: flexMaximumInstanceCount
    flexInstanceMemoryMB: flexInstanceMemoryMB
    identityId: identity.outputs.id
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    publicNetworkAccess: appPublicNetworkAccess
    studioAuthClientId: studioAuthClientId
    appSettings: union(baseSettings, studioSettings, otlpSettings, extraAppSettings)
  }
  // The host starts as soon as the site exists; give it its storage, queue and vault roles first.
  dependsOn: [
    appRoles
  ]
}

output functionAppName string = functionApp.outputs.name
output functionAppHostName string = functionApp.outputs.defaultHostName
output serviceBusNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output keyVaultName string = keyVault.outputs.name
output webhookSecretName string = names.webhookSecretName
output studioFormKeySecretName string = names.studioFormKeySecretName
output internalKeySecretName string = names.internalKeySecretName
output studioUrl string = empty(studioAuthClientId) ? '' : 'https://${functionApp.outputs.defaultHostName}/api/studio/'
output identityClientId string = clientId
output identityPrincipalId string = identity.outputs.principalId
output appInsightsName string = monitoring.outputs.appInsightsName
output storageAccountName string = storage.outputs.name
// Synapse RBAC is not Azure RBAC: no template can grant it. Run each command once (as a Synapse
// Administrator of that workspace) so poolbroker can grant attached pools' identities access
// (GrantPoolAccess, grant_synapse_access on AttachPool / UpdatePoolIdentity); docs/deploy.md §5.
output synapseBrokerGrantCommands array = [
  for synapseWorkspaceId in synapseWorkspaceIds: 'az synapse role assignment create --workspace-name ${last(split(synapseWorkspaceId, '/'))} --role "Synapse Administrator" --assignee-object-id ${identity.outputs.principalId} --assignee-principal-type ServicePrincipal'
]
