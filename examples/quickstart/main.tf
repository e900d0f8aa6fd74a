provider "airflowiam" {
  airflow {
    endpoint = var.airflow_url
    username = var.airflow_username
    password = var.airflow_password

    composer_environment = var.composer_environment
    mwaa_environment     = var.mwaa_environment
  }
  google {
    access_token             = var.google_access_token
    iam_endpoint             = var.google_endpoint
    iamcredentials_endpoint  = var.google_endpoint
    oauth2_endpoint          = var.google_endpoint
    resourcemanager_endpoint = var.google_endpoint
  }
  aws {
    region       = var.aws_region
    access_key   = var.aws_access_key
    secret_key   = var.aws_secret_key
    iam_endpoint = var.aws_endpoint
    sts_endpoint = var.aws_endpoint
  }
}

# AWS: a role the workers' Google identity assumes, and the connection that
# uses it. No AWS keys anywhere.
resource "airflowiam_web_identity_role" "analytics" {
  name                   = "airflow-analytics"
  google_service_account = var.worker_service_account
  audience               = "airflow-analytics"
  inline_policies = {
    read_results = jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:ListBucket"]
        Resource = ["arn:aws:s3:::analytics-results", "arn:aws:s3:::analytics-results/*"]
      }]
    })
  }
}

resource "airflowiam_connection" "aws_analytics" {
  connection_id = "aws_analytics"
  conn_type     = "aws"
  description   = "Assumes airflow-analytics with the workers' Google identity"
  extra         = airflowiam_web_identity_role.analytics.airflow_connection_extra
}

# GCP: the workers act as the BigQuery loader through a delegate, and a
# Google connection applies the chain. No key files.
resource "airflowiam_impersonation_chain" "bigquery" {
  source = var.worker_service_account
  chain  = [var.bigquery_delegate, var.bigquery_target]
}

resource "airflowiam_connection" "google_bigquery" {
  connection_id = "google_bigquery"
  conn_type     = "google_cloud_platform"
  extra = jsonencode(merge(
    jsondecode(airflowiam_impersonation_chain.bigquery.airflow_connection_extra),
    { project = var.project },
  ))
}

# Kubernetes: the etl task's pods run as their own Google identity.
resource "airflowiam_task_identity" "etl" {
  google_service_account         = var.etl_task_service_account
  workload_identity_pool_project = var.project
  namespace                      = "airflow"
  kubernetes_service_account     = "etl-task"
}

# The check: mints the workers' ID token, judges it against the role's trust
# policy, exchanges it with STS, checks the connection, and mints an access
# token along the BigQuery chain, as Airflow will. A broken hop fails the
# plan with its name and the fix. (In CI, put it in a check block to make it a
# warning instead.) The provider's identity needs Token Creator on the
# workers' account.
data "airflowiam_token_exchange" "path" {
  service_account         = var.worker_service_account
  airflow_connection_id   = airflowiam_connection.aws_analytics.connection_id
  gcp_impersonation_chain = airflowiam_impersonation_chain.bigquery.airflow_impersonation_chain

  # Read after the grants and the connection exist.
  depends_on = [airflowiam_impersonation_chain.bigquery, airflowiam_connection.aws_analytics]
}
