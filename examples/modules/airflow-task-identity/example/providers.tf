# Connection settings. Null means the provider's default, Application
# Default Credentials; the module's tests point them at a local sandbox.
variable "google_access_token" {
  type      = string
  default   = null
  sensitive = true
}

variable "google_endpoint" {
  description = "One base URL for IAM, IAM Credentials, OAuth2, Resource Manager and Secret Manager (a sandbox); null for Google's."
  type        = string
  default     = null
}

provider "airflowiam" {
  google {
    access_token             = var.google_access_token
    iam_endpoint             = var.google_endpoint
    iamcredentials_endpoint  = var.google_endpoint
    oauth2_endpoint          = var.google_endpoint
    resourcemanager_endpoint = var.google_endpoint
    secretmanager_endpoint   = var.google_endpoint
  }
}
