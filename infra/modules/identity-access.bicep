// Lets the app put ONE user-assigned identity on attached computes. ARM requires
// Microsoft.ManagedIdentity/userAssignedIdentities/assign/action on an identity before it can be
// attached to any resource; the built-in Managed Identity Operator is exactly read + assign on the
// identity, so it is already least privilege (same in every roleMode).

@description('Resource id of the user-assigned identity.')
param identityId string
@description('Object id of the app identity.')
param principalId string

var managedIdentityOperator = 'f1a07417-d97a-45cb-824c-7a7467783830'

resource target 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: last(split(identityId, '/'))
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: target
  name: guid(target.id, principalId, managedIdentityOperator)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', managedIdentityOperator)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
