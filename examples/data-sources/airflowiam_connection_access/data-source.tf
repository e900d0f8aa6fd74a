# The loader task reads the warehouse connection, and the reporting task
# does not. Both are proven on every plan, as the tasks would read: the
# provider's identity (with Token Creator on each task's service account)
# acts as the task and reads the secret's latest version. Inside check
# blocks a broken proof is a warning, so applies go on while the plan
# reports it.
check "warehouse_readable_by_loader" {
  data "airflowiam_connection_access" "loader" {
    secret          = airflowiam_gcp_secret_connection.warehouse.secret_name
    service_account = airflowiam_task_identity.loader.google_service_account
  }

  assert {
    condition     = data.airflowiam_connection_access.loader.readable
    error_message = "The loader task cannot read the warehouse connection."
  }
}

check "warehouse_hidden_from_reporting" {
  data "airflowiam_connection_access" "reporting" {
    secret          = airflowiam_gcp_secret_connection.warehouse.secret_name
    service_account = airflowiam_task_identity.reporting.google_service_account
    expect          = "denied"
  }

  assert {
    condition     = !data.airflowiam_connection_access.reporting.readable
    error_message = "The reporting task can read the warehouse connection."
  }
}
