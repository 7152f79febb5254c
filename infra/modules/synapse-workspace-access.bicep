// Read access to ONE Synapse workspace whose Spark pools get attached to Azure ML: attaching a
// compute that links another resource requires the caller to be able to read that resource.
// Custom mode: a role with only workspaces/read and bigDataPools/read. Otherwise built-in Reader
// (read-only, but covers every child resource of the workspace).
//
// This is the ARM (control-plane) side only. The attached compute's own identity additionally
// needs the Synapse *data-plane* role "Synapse Administrator" on the pool, which poolbroker grants
// itself once its own identity is a Synapse Administrator of the workspace; ARM templates cannot
// grant Synapse roles, so main.bicep outputs that one-time command (docs/deploy.md, "Synapse RBAC").

@description('Resource id of the Synapse workspace.')
param synapseWorkspaceId string
@description('Object id of the app identity.')
param principalId string
@allowed([
  'Custom'
  'BuiltIn'
  'Contributor'
])
param roleMode string = 'Custom'

var readerRole = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
var customRoleGuid = guid(toLower(synapseWorkspaceId), 'poolbroker-pool-reader')

resource synapse 'Microsoft.Synapse/workspaces@2021-06-01' existing = {
  name: last(split(synapseWorkspaceId, '/'))
}

resource poolReaderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (roleMode == 'Custom') {
  name: customRoleGuid
  properties: {
    roleName: 'poolbroker pool reader (${synapse.name}, ${take(uniqueString(toLower(synapseWorkspaceId)), 6)})'
    description: 'Read a Synapse workspace and its Spark pools so they can be attached to Azure ML (poolbroker).'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: [
          'Microsoft.Synapse/workspaces/read'
          'Microsoft.Synapse/workspaces/bigDataPools/read'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

var roleGuid = roleMode == 'Custom' ? customRoleGuid : readerRole

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: synapse
  name: guid(synapse.id, principalId, roleGuid)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleGuid)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [
    poolReaderRole
  ]
}
