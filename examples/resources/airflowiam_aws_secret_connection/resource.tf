# A customer managed key for Airflow's connection secrets. Workers that read
# a secret need kms:Decrypt on it, so one key per team (or per connection)
# decides who can read what.
resource "aws_kms_key" "airflow_connections" {
  description = "Airflow connections"
}

# The warehouse connection, written where Airflow's SecretsManagerBackend
# looks for it: airflow/connections/warehouse. The password never enters
# plan or state (Terraform 1.11+); bump password_wo_version to write a new
# one.
resource "airflowiam_aws_secret_connection" "warehouse" {
  connection_id       = "warehouse"
  conn_type           = "postgres"
  host                = "warehouse.internal.example.com"
  port                = 5432
  schema              = "analytics"
  login               = "airflow"
  password_wo         = var.warehouse_password
  password_wo_version = 1
  extra               = jsonencode({ sslmode = "require" })

  kms_key_id = aws_kms_key.airflow_connections.arn
  tags       = { team = "data-platform" }
}

# Airflow's side (airflow.cfg, or AIRFLOW__SECRETS__BACKEND and
# AIRFLOW__SECRETS__BACKEND_KWARGS):
#   [secrets]
#   backend = airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend
#   backend_kwargs = {"connections_prefix": "airflow/connections"}
output "warehouse_secret_arn" {
  description = "Grant secretsmanager:GetSecretValue on this ARN to the workers."
  value       = airflowiam_aws_secret_connection.warehouse.secret_arn
}

variable "warehouse_password" {
  type      = string
  sensitive = true
  ephemeral = true
}
