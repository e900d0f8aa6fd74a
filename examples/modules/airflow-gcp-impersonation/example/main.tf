variable "worker_service_account" {
  description = "The Google service account Airflow's workers run as."
  type        = string
  default     = "airflow-worker@airflow-prod.iam.gserviceaccount.com"
}

variable "delegate" {
  type    = string
  default = "bq-delegate@airflow-prod.iam.gserviceaccount.com"
}

variable "target" {
  type    = string
  default = "bq-loader@airflow-prod.iam.gserviceaccount.com"
}

variable "connection_id" {
  type    = string
  default = "google_bigquery"
}

module "bigquery" {
  source = "../"

  source_member         = var.worker_service_account
  chain                 = [var.delegate, var.target]
  project               = "airflow-prod"
  connection_id         = var.connection_id
  check_service_account = var.worker_service_account
}

output "impersonation_chain" {
  value = module.bigquery.impersonation_chain
}
