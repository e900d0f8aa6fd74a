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

# On AWS, the reader role is reached from the task's Google service account
# through its web identity, as the worker reaches it. Secrets Manager
# answers, but moto and other test doubles do not enforce resource policies
# or key grants, so the verdict is evaluated over the secret's resource
# policy, the role's identity policies and the key's grants
# (judged = "evaluated"); a refusal by Secrets Manager decides by itself.
check "warehouse_readable_by_loader_on_aws" {
  data "airflowiam_connection_access" "loader_aws" {
    secret          = airflowiam_aws_secret_connection.warehouse.secret_arn
    role_arn        = airflowiam_web_identity_role.loader.arn
    service_account = airflowiam_task_identity.loader.google_service_account
    audience        = airflowiam_web_identity_role.loader.audience
  }

  assert {
    condition     = data.airflowiam_connection_access.loader_aws.readable
    error_message = "The loader task's role cannot read the warehouse connection."
  }
}
