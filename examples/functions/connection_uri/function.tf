# AIRFLOW_CONN_WAREHOUSE for the Airflow deployment, built from the same
# fields an airflowiam_connection takes.
locals {
  airflow_env = {
    AIRFLOW_CONN_WAREHOUSE = provider::airflowiam::connection_uri({
      conn_type = "postgres"
      host      = "warehouse.internal.example.com"
      port      = 5432
      schema    = "analytics"
      login     = "airflow"
      password  = var.warehouse_password
      extra     = jsonencode({ sslmode = "require" })
    })
  }
}

variable "warehouse_password" {
  type      = string
  sensitive = true
}
