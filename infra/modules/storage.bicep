// Host storage (AzureWebJobsStorage: leases, timer schedule monitor, host keys) and, on Flex
// Consumption, the blob container the platform deploys the package from. Identity only: shared
// keys are disabled, so there is no connection string to leak.

param name string
param location string
param tags object
@description('Blob container holding Flex Consumption deployment packages.')
param deploymentContainerName string
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
@description('Host storage only holds leases, host keys, timer state and deployment packages, all re-creatable; ZRS survives a zone outage.')
param skuName string = 'Standard_ZRS'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  //checkov:skip=CKV_AZURE_206:Host storage holds only re-creatable state (leases, host keys, timer status, deployment packages); zone-redundant ZRS is the default and geo-redundant SKUs are a parameter (skuName).
  //checkov:skip=CKV_AZURE_35:Without VNet integration (not in this template) the Functions host reaches its storage over the public endpoint; shared keys are disabled, so access needs an Entra ID token with a data role. dataPublicNetworkAccess=Disabled denies by default when you add private endpoints.
  //checkov:skip=CKV_AZURE_59:Same reason as CKV_AZURE_35; blob public (anonymous) access is off (allowBlobPublicAccess: false).
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      // The Functions host reaches its storage over the public endpoint unless the app is
      // VNet-integrated with private endpoints (not part of this template).
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
