// Example parameters: copy, edit the ids, then
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.bicepparam
using 'main.bicep'

param namePrefix = 'poolbroker'

// Flex Consumption (FC1) by default; 'ElasticPremium' with premiumSku = 'EP1' for always-warm.
param hostingPlan = 'FlexConsumption'

// Existing workspaces poolbroker manages. Other resource groups / subscriptions are fine.
param amlWorkspaceIds = [
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-analytics'
]

param synapseWorkspaceIds = [
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-synapse/providers/Microsoft.Synapse/workspaces/syn-analytics'
]

// Identities a command may put on an attached pool (identity.type user_assigned).
param attachableIdentityIds = [
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-spark-jobs'
]

param amlRoleMode = 'Custom'

param cleanupSchedule = '0 */15 * * * *'

// Your own object id (az ad signed-in-user show --query id -o tsv): lets you send commands, read
// replies and set the webhook secret. A group id works too (operatorPrincipalType = 'Group').
param operatorPrincipalId = ''

// An OpenTelemetry Collector that forwards to Application Insights; empty disables OTLP export.
param otlpEndpoint = ''
