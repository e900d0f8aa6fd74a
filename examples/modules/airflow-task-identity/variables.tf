variable "google_service_account" {
  description = "Email of the Google service account the task runs as."
  type        = string
}

variable "workload_identity_pool_project" {
  description = "Project that owns the GKE cluster's workload pool (PROJECT.svc.id.goog)."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the task pods."
  type        = string
}

variable "kubernetes_service_account" {
  description = "Kubernetes service account the task pods run as."
  type        = string
}

variable "connections" {
  description = <<-EOT
    The task's own Airflow connections, by connection ID: each is written to
    Google Secret Manager (as CloudSecretManagerBackend reads it) with this
    task's service account as its only reader. Empty by default.
  EOT
  type = map(object({
    project          = string
    conn_type        = string
    host             = optional(string)
    login            = optional(string)
    schema           = optional(string)
    port             = optional(number)
    extra            = optional(string)
    kms_key_name     = optional(string)
    password_version = optional(number) # set with a password; change it to write a new one
  }))
  default = {}
}

variable "passwords" {
  description = "Passwords of the connections, by connection ID; written only, never kept in state."
  type        = map(string)
  default     = {}
  sensitive   = true
  ephemeral   = true
}
