variable "source_member" {
  description = "Who starts the chain: usually the Airflow workers' service account (an email or an IAM member)."
  type        = string
}

variable "chain" {
  description = "Service-account emails in order: delegates, then the target Airflow's tasks act as."
  type        = list(string)
}

variable "project" {
  description = "Google Cloud project the connection's hooks use by default."
  type        = string
}

variable "connection_id" {
  description = "ID of the Airflow Google connection to create."
  type        = string
}

variable "check_service_account" {
  description = "Email of the workers' service account, when the provider's own identity is not the source: the check then reaches it first (the provider needs Token Creator on it). Null checks from the provider's identity."
  type        = string
  default     = null
}

variable "check_propagation_timeout" {
  description = "How long the plan-time check waits for new IAM grants to take effect."
  type        = string
  default     = "2m"
}
