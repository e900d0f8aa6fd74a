variable "role_name" {
  description = "Name of the IAM role the Airflow workers assume."
  type        = string
}

variable "google_service_account" {
  description = "Email of the Google service account the Airflow workers run as: the identity AWS trusts."
  type        = string
}

variable "audience" {
  description = "Audience of the workers' Google ID tokens. Defaults to the role name."
  type        = string
  default     = null
}

variable "connection_id" {
  description = "ID of the Airflow AWS connection to create. Defaults to aws_<role_name> with dashes as underscores."
  type        = string
  default     = null
}

variable "managed_policy_arns" {
  description = "Managed policies attached to the role."
  type        = set(string)
  default     = []
}

variable "inline_policies" {
  description = "Inline policies of the role, name to JSON document."
  type        = map(string)
  default     = {}
}

variable "check_propagation_timeout" {
  description = "How long the plan-time check waits for new IAM grants to take effect."
  type        = string
  default     = "2m"
}
