// Log Analytics + workspace-based Application Insights. Local (instrumentation-key) auth is off:
// the host authenticates with the app identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING) and
// needs Monitoring Metrics Publisher on the component (granted in app-roles.bicep).

param logAnalyticsName string
param appInsightsName string
param location string
param tags object
@minValue(30)
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

output appInsightsId string = appInsights.id
output appInsightsName string = appInsights.name
output connectionString string = appInsights.properties.ConnectionString
output logAnalyticsId string = logAnalytics.id
