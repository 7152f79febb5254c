// Key Vault (RBAC mode) for the pipeline-events webhook secret. The template creates the vault but
// never the secret value: you set it with `az keyvault secret set` (docs/deploy.md), so it appears
// in no parameter file, deployment history, app setting or package. The app reads it through a Key
// Vault reference resolved with its user-assigned identity.

param name string
param location string
param tags object
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'
@description('Name of the secret holding the pipeline-events webhook signing secret.')
param webhookSecretName string
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  //checkov:skip=CKV_AZURE_109:Flex Consumption cannot resolve Key Vault references to a network-restricted vault at all, even with VNet integration (Flex Consumption docs, Considerations), and without VNet integration App Service resolves references from shared outbound IPs; access is gated by Entra ID RBAC instead (Key Vault Secrets User for the app identity only). dataPublicNetworkAccess=Disabled is for Premium with private endpoints.
  //checkov:skip=CKV_AZURE_189:Same reason as CKV_AZURE_109: public network access is a parameter (dataPublicNetworkAccess), Enabled by default because Flex Consumption Key Vault references require it and the template creates no private endpoints.
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      // App Service resolves Key Vault references from its own outbound addresses; without VNet
      // integration the vault must accept public traffic ('Allow'), restricted by RBAC.
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
  }
}

output id string = vault.id
output name string = vault.name
output vaultUri string = vault.properties.vaultUri
// Versionless: the app picks up a rotated secret (App Service re-reads references within 24 h,
// or at once on restart) without a redeployment.
output webhookSecretUri string = '${vault.properties.vaultUri}secrets/${webhookSecretName}'
