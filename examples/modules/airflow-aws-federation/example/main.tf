variable "worker_service_account" {
  description = "The Google service account Airflow's workers run as."
  type        = string
  default     = "airflow-worker@airflow-prod.iam.gserviceaccount.com"
}

variable "name" {
  description = "Name of the role."
  type        = string
  default     = "airflow-analytics"
}

module "analytics" {
  source = "../"

  role_name              = var.name
  google_service_account = var.worker_service_account
  inline_policies = {
    read_results = jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:ListBucket"]
        Resource = ["arn:aws:s3:::analytics-results", "arn:aws:s3:::analytics-results/*"]
      }]
    })
  }
}

output "role_arn" {
  value = module.analytics.role_arn
}

output "connection_id" {
  value = module.analytics.connection_id
}
