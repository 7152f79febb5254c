// Linux Function App running poolbroker as a custom handler.
//
// FlexConsumption (default): plan FC1; runtime, scaling and the deployment container live in
// functionAppConfig, and the platform rejects or ignores the legacy FUNCTIONS_WORKER_RUNTIME /
// FUNCTIONS_EXTENSION_VERSION / WEBSITE_RUN_FROM_PACKAGE settings, so they are not sent.
// ElasticPremium: plan EP1..EP3 with the classic settings (FUNCTIONS_WORKER_RUNTIME=custom) and
// run-from-package zip deployment.

param name string
param planName string
param location string
param tags object
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
@minValue(1)
@maxValue(20)
param premiumMaximumElasticWorkerCount int = 3
@minValue(40)
@maxValue(1000)
param flexMaximumInstanceCount int = 40
@allowed([
  512
  2048
  4096
])
param flexInstanceMemoryMB int = 2048
@description('Zone-redundant plan (needs a region with availability zones; Premium then bills at least 3 instances).')
param zoneRedundant bool = false
param identityId string
@description('Blob container URL the Flex Consumption platform deploys packages from.')
param deploymentContainerUrl string
@description('App settings (name to value).')
param appSettings object
@allowed([
  'Enabled'
  'Disabled'
])
@description('Inbound access to the app (the pipeline-events HTTP hook needs it unless you add a private endpoint).')
param publicNetworkAccess string = 'Enabled'

@description('Client id of the Entra ID app registration that signs users in to the Studio page (App Service Authentication). Empty: authentication is not configured and the Studio stays off.')
param studioAuthClientId string = ''
@description('HTTP paths App Service Authentication lets through without a sign-in: webhooks with their own function key and HMAC signature.')
param authExcludedPaths array = [
  '/api/events'
]

var isFlex = hostingPlan == 'FlexConsumption'

var planSku = isFlex ? {
  name: 'FC1'
  tier: 'FlexConsumption'
} : {
  name: premiumSku
  tier: 'ElasticPremium'
}

var classicSettings = isFlex ? {} : {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'custom'
  WEBSITE_RUN_FROM_PACKAGE: '1'
}

var settings = union(appSettings, classicSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'elastic'
  sku: planSku
  //checkov:skip=CKV_AZURE_225:Zone redundancy is a parameter (zoneRedundant); off by default because not every region supports it and on Premium it means at least 3 always-billed instances. Work is queue-driven: a lost zone delays commands, it does not lose them.
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
    maximumElasticWorkerCount: isFlex ? null : premiumMaximumElasticWorkerCount
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  //checkov:skip=CKV_AZURE_222:Inbound access is a parameter (publicNetworkAccess); the pipeline-events webhook must be reachable by external CI systems unless you front the app with a private endpoint. Queue and timer triggers do not need inbound access.
  //checkov:skip=CKV_AZURE_17:The only HTTP function (pipeline-events) is called by webhook senders (Event Grid, CI systems) that cannot present client certificates; it requires a function key and an HMAC signature checked with the Key Vault secret.
  //checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero by design and Premium keeps one warm instance; commands wait in Service Bus and are redelivered if an instance is lost, so no minimum instance count is needed for failover.
  //checkov:skip=CKV_AZURE_213:App Service health check needs an anonymous HTTP endpoint; the Functions host already probes the custom handler (GET /) and restarts it, and queue messages are redelivered on failure.
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: publicNetworkAccess
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      remoteDebuggingEnabled: false
      appSettings: [
        for setting in items(settings): {
          name: setting.key
          value: setting.value
        }
      ]
    }
    functionAppConfig: isFlex ? {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: flexMaximumInstanceCount
        instanceMemoryMB: flexInstanceMemoryMB
      }
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    } : null
  }
}

// No FTP or SCM basic-auth publishing: deployments authenticate with Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// App Service Authentication (Easy Auth) with Entra ID in front of the Studio (docs/studio.md):
// browsers are sent to sign in, and the platform passes the signed-in principal to the app in
// X-MS-CLIENT-PRINCIPAL, stripping any such header a client sends. The handler then checks the
// principal's groups or app roles (POOLBROKER_STUDIO_ALLOWED). No client secret: the sign-in
// uses the ID token flow (enable "ID tokens" on the app registration). Webhook paths stay open
// to their senders, which authenticate with a function key and an HMAC signature.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(studioAuthClientId)) {
  //checkov:skip=CKV_AZURE_13:This resource IS App Service Authentication (authsettingsV2, platform.enabled true); checkov only recognises the legacy authsettings shape with properties.enabled.
  //checkov:skip=CKV_AZURE_63:checkov applies this site-level check to every Microsoft.Web/sites/config resource; this one holds only the authentication settings, and the configuration of the site itself is checked (or skipped with a reason) on the site resource above.
  //checkov:skip=CKV_AZURE_65:checkov applies this site-level check to every Microsoft.Web/sites/config resource; this one holds only the authentication settings, and the configuration of the site itself is checked (or skipped with a reason) on the site resource above.
  parent: site
  //checkov:skip=CKV_AZURE_66:checkov applies this site-level check to every Microsoft.Web/sites/config resource; this one holds only the authentication settings, and the configuration of the site itself is checked (or skipped with a reason) on the site resource above.
  //checkov:skip=CKV_AZURE_80:checkov applies this site-level check to every Microsoft.Web/sites/config resource; this one holds only the authentication settings, and the configuration of the site itself is checked (or skipped with a reason) on the site resource above.
  //checkov:skip=CKV_AZURE_88:checkov applies this site-level check to every Microsoft.Web/sites/config resource; this one holds only the authentication settings, and the configuration of the site itself is checked (or skipped with a reason) on the site resource above.
  name: 'authsettingsV2'
  //checkov:skip=CKV_AZURE_222:checkov applies this site-level check to every Microsoft.Web/sites/config resource; this one holds only the authentication settings, and the configuration of the site itself is checked (or skipped with a reason) on the site resource above.
  properties: {
    platform: {
      enabled: true
      runtimeVersion: '~1'
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: authExcludedPaths
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: studioAuthClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${studioAuthClientId}'
            studioAuthClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
      forwardProxy: {
        convention: 'NoProxy'
      }
    }
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
