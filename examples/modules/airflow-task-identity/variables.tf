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
