# An AWS connection that assumes a role with the worker's Google identity:
# no key material anywhere.
resource "airflowiam_connection" "aws_analytics" {
  connection_id = "aws_analytics"
  conn_type     = "aws"
  description   = "Analytics account, assumed with a Google ID token"
  extra = jsonencode({
    role_arn                                          = "arn:aws:iam::123456789012:role/airflow-analytics"
    region_name                                       = "eu-west-1"
    assume_role_method                                = "assume_role_with_web_identity"
    assume_role_with_web_identity_federation          = "google"
    assume_role_with_web_identity_federation_audience = "airflow-analytics"
  })
}

# A database connection whose password never enters plan or state
# (Terraform 1.11+). Bump password_wo_version to send a new password.
resource "airflowiam_connection" "warehouse" {
  connection_id       = "warehouse"
  conn_type           = "postgres"
  host                = "warehouse.internal.example.com"
  port                = 5432
  schema              = "analytics"
  login               = "airflow"
  password_wo         = var.warehouse_password
  password_wo_version = 1
  extra               = jsonencode({ sslmode = "require" })
}

# An HTTP connection whose API key never enters plan or state: secret extra
# keys go in extra_wo (write-only, Terraform 1.11+ or OpenTofu 1.11+), which
# the provider merges into the extra it sends; only the key names are
# remembered (in private state), so the key never shows as drift in extra.
# Give the key through an ephemeral variable or an ephemeral resource; bump
# extra_wo_version to send a new one. extra and extra_wo may not share a key.
resource "airflowiam_connection" "weather_api" {
  connection_id    = "weather_api"
  conn_type        = "http"
  host             = "https://api.weather.example.com"
  extra            = jsonencode({ timeout = 30 })
  extra_wo         = jsonencode({ api_key = var.weather_api_key })
  extra_wo_version = 1
}

variable "weather_api_key" {
  type      = string
  sensitive = true
  ephemeral = true
}

variable "warehouse_password" {
  type      = string
  sensitive = true
  ephemeral = true
}
