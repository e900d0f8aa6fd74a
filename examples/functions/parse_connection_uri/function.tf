# Move a connection from an environment variable into Terraform.
locals {
  legacy = provider::airflowiam::parse_connection_uri(var.legacy_airflow_conn_uri)
}

resource "airflowiam_connection" "warehouse" {
  connection_id = "warehouse"
  conn_type     = local.legacy.conn_type
  host          = local.legacy.host
  port          = local.legacy.port
  schema        = local.legacy.schema
  login         = local.legacy.login
  password      = local.legacy.password
  extra         = local.legacy.extra
}

variable "legacy_airflow_conn_uri" {
  type      = string
  sensitive = true
}
