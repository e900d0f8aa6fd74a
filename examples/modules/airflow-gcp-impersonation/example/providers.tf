# Connection settings. Null means the provider's defaults: the environment
# (AIRFLOW_URL, ...) and Application Default Credentials; the module's tests
# point them at a local sandbox.
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
}

variable "google_access_token" {
  type      = string
  default   = null
  sensitive = true
}

variable "google_endpoint" {
  description = "One base URL for IAM, IAM Credentials and OAuth2 (a sandbox); null for Google's."
  type        = string
  default     = null
}

provider "airflowiam" {
  airflow {
    endpoint = var.airflow_url
    username = var.airflow_username
    password = var.airflow_password
  }
  google {
    access_token             = var.google_access_token
    iam_endpoint             = var.google_endpoint
    iamcredentials_endpoint  = var.google_endpoint
    oauth2_endpoint          = var.google_endpoint
    resourcemanager_endpoint = var.google_endpoint
  }
}
