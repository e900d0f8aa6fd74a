# The task's Kubernetes service account may act as its Google service
# account (roles/iam.workloadIdentityUser), through GKE Workload Identity.
resource "airflowiam_task_identity" "this" {
  google_service_account         = var.google_service_account
  workload_identity_pool_project = var.workload_identity_pool_project
  namespace                      = var.namespace
  kubernetes_service_account     = var.kubernetes_service_account
}
