variable "task_service_account" {
  description = "The Google service account the etl tasks run as."
  type        = string
  default     = "etl-task@airflow-prod.iam.gserviceaccount.com"
}

module "etl" {
  source = "../"

  google_service_account         = var.task_service_account
  workload_identity_pool_project = "gke-platform-prod"
  namespace                      = "airflow"
  kubernetes_service_account     = "etl-task"

  # The warehouse connection only the etl tasks read.
  connections = {
    etl_warehouse = {
      project   = "airflow-prod"
      conn_type = "postgres"
      host      = "warehouse.internal.example.com"
      login     = "etl"
    }
  }
}

output "kubernetes_annotations" {
  value = module.etl.kubernetes_annotations
}

output "executor_config" {
  value = module.etl.executor_config
}

output "connection_secrets" {
  value = module.etl.connection_secrets
}
