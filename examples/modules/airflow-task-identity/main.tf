# The task's Kubernetes service account may act as its Google service
# account (roles/iam.workloadIdentityUser), through GKE Workload Identity.
resource "airflowiam_task_identity" "this" {
  google_service_account         = var.google_service_account
  workload_identity_pool_project = var.workload_identity_pool_project
  namespace                      = var.namespace
  kubernetes_service_account     = var.kubernetes_service_account
}

# The task's own connections: only its service account may read each one
# (roles/secretmanager.secretAccessor on the secret itself).
resource "airflowiam_gcp_secret_connection" "this" {
  for_each = var.connections

  project             = each.value.project
  connection_id       = each.key
  conn_type           = each.value.conn_type
  host                = each.value.host
  login               = each.value.login
  schema              = each.value.schema
  port                = each.value.port
  extra               = each.value.extra
  kms_key_name        = each.value.kms_key_name
  password_wo         = lookup(var.passwords, each.key, null)
  password_wo_version = each.value.password_version

  readers = ["serviceAccount:${var.google_service_account}"]
}
