# Where things are. `make demo` writes terraform.tfvars.json for the local
# sandbox; against real services, leave the endpoints null.
#
# The credentials are ephemeral (Terraform 1.10+, OpenTofu 1.11+): they reach
# the provider block and nothing else, so they are never written to state or
# to a saved plan. Give them again (the same tfvars file, or TF_VAR_...) when
# applying a saved plan.

# Airflow: either an endpoint with a username and password, or a managed
# environment (then leave the three airflow_* variables null).

variable "airflow_url" {
  type    = string
  default = null
}

variable "airflow_username" {
  type    = string
  default = null
}

variable "airflow_password" {
  type      = string
  default   = null
  sensitive = true
  ephemeral = true
}

variable "composer_environment" {
  description = "A Cloud Composer environment, projects/P/locations/L/environments/E, reached as the google block's identity (see the Managed Airflow guide); null to use airflow_url."
  type        = string
  default     = null
}

variable "mwaa_environment" {
  description = "An Amazon MWAA environment name, reached through InvokeRestApi as the aws block's identity (see the Managed Airflow guide); null to use airflow_url. Set at most one of composer_environment and mwaa_environment."
  type        = string
  default     = null
}

variable "google_access_token" {
  description = "The provider's Google identity (null: Application Default Credentials)."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "google_endpoint" {
  description = "One base URL for IAM, IAM Credentials and OAuth2 (the sandbox's fake); null for Google's."
  type        = string
  default     = null
}

variable "aws_region" {
  type    = string
  default = "us-east-1"
}

variable "aws_access_key" {
  type      = string
  default   = null
  sensitive = true
  ephemeral = true
}

variable "aws_secret_key" {
  type      = string
  default   = null
  sensitive = true
  ephemeral = true
}

variable "aws_endpoint" {
  description = "One URL for IAM and STS (the sandbox's moto); null for AWS's."
  type        = string
  default     = null
}

# Who is who.

variable "project" {
  description = "The Google Cloud project of the service accounts."
  type        = string
  default     = "airflow-prod"
}

variable "worker_service_account" {
  description = "The Google service account Airflow's workers run as."
  type        = string
  default     = "airflow-worker@airflow-prod.iam.gserviceaccount.com"
}

variable "bigquery_delegate" {
  type    = string
  default = "bq-delegate@airflow-prod.iam.gserviceaccount.com"
}

variable "bigquery_target" {
  description = "The service account BigQuery tasks act as."
  type        = string
  default     = "bq-loader@airflow-prod.iam.gserviceaccount.com"
}

variable "etl_task_service_account" {
  description = "The Google service account of the etl task's pods."
  type        = string
  default     = "etl-task@airflow-prod.iam.gserviceaccount.com"
}
