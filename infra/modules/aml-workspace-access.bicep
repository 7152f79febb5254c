// What the app identity may do in ONE target Azure ML workspace. Deployed into the workspace's
// resource group (which may differ from the app's, even in another subscription of the tenant).
//
// roleMode:
//   Custom      (default) a custom role with exactly what poolbroker calls: read the workspace and
//               its assets, attach/update/detach computes, submit/cancel jobs. One definition per
//               workspace, assignable in that workspace's resource group only.
//   BuiltIn     AzureML Data Scientist + AzureML Compute Operator (Data Scientist alone cannot
//               create or delete computes: its NotActions exclude computes/*/write and /delete).
//   Contributor Contributor on the workspace. Broadest; only where custom roles are not allowed.

@description('Resource id of the Azure ML workspace.')
param workspaceId string
@description('Object id of the app identity.')
param principalId string
@allowed([
  'Custom'
  'BuiltIn'
  'Contributor'
])
param roleMode string = 'Custom'

var builtIn = {
  azureMlDataScientist: 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
  azureMlComputeOperator: 'e503ece1-11d0-4e8e-8e2c-7a6c3bf38815'
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c'
}

var customRoleGuid = guid(toLower(workspaceId), 'poolbroker-pool-operator')

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: last(split(workspaceId, '/'))
}

// Role names are unique per tenant, so the workspace (and a hash of its id) is part of the name.
resource poolOperatorRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (roleMode == 'Custom') {
  name: customRoleGuid
  properties: {
    roleName: 'poolbroker pool operator (${workspace.name}, ${take(uniqueString(toLower(workspaceId)), 6)})'
    description: 'Attach, update and detach Synapse Spark pools as Azure ML computes and submit Spark jobs (poolbroker).'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: [
          // Workspace and asset reads: location for the compute body, code/environment/datastore
          // ids referenced by Spark jobs, compute and job status.
          'Microsoft.MachineLearningServices/workspaces/read'
          'Microsoft.MachineLearningServices/workspaces/*/read'
          // Attach or update identity (PUT) and detach (DELETE ?underlyingResourceAction=Detach).
          'Microsoft.MachineLearningServices/workspaces/computes/write'
          'Microsoft.MachineLearningServices/workspaces/computes/delete'
          // Submit, cancel and archive jobs; job submission records runs under an experiment.
          'Microsoft.MachineLearningServices/workspaces/jobs/*'
          'Microsoft.MachineLearningServices/workspaces/experiments/*'
          // SDK v1 linked services: RegisterLinkedService / UnregisterLinkedService (reads are
          // covered by workspaces/*/read). Azure refuses new registrations today; unregistering
          // is what migrating off them ends with.
          'Microsoft.MachineLearningServices/workspaces/linkedServices/write'
          'Microsoft.MachineLearningServices/workspaces/linkedServices/delete'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource customAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (roleMode == 'Custom') {
  scope: workspace
  name: guid(workspace.id, principalId, customRoleGuid)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', customRoleGuid)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [
    poolOperatorRole
  ]
}

var primaryBuiltIn = roleMode == 'Contributor' ? builtIn.contributor : builtIn.azureMlDataScientist

resource primaryBuiltInAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (roleMode != 'Custom') {
  scope: workspace
  name: guid(workspace.id, principalId, primaryBuiltIn)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', primaryBuiltIn)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource computeOperatorAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (roleMode == 'BuiltIn') {
  scope: workspace
  name: guid(workspace.id, principalId, builtIn.azureMlComputeOperator)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtIn.azureMlComputeOperator)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
