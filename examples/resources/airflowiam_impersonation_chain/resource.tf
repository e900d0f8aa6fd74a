# The Airflow workers act as the BigQuery loader through a project-level
# delegate, with no key files. Each hop is one Token Creator grant.
resource "airflowiam_impersonation_chain" "bigquery" {
  source = "airflow-worker@platform-prod.iam.gserviceaccount.com"
  chain = [
    "analytics-delegate@analytics-prod.iam.gserviceaccount.com",
    "bq-loader@analytics-prod.iam.gserviceaccount.com",
  ]
}

# A Google connection that applies the chain. Airflow's operators can also
# take the list directly: impersonation_chain = [...airflow_impersonation_chain].
resource "airflowiam_connection" "bigquery" {
  connection_id = "google_analytics"
  conn_type     = "google_cloud_platform"
  extra = jsonencode(merge(
    jsondecode(airflowiam_impersonation_chain.bigquery.airflow_connection_extra),
    { project = "analytics-prod" },
  ))
}

output "bigquery_impersonation_chain" {
  value = airflowiam_impersonation_chain.bigquery.airflow_impersonation_chain
}

# ID tokens only, the least privilege for AWS web-identity federation. The
# grant on the target (the last account of chain) is OpenID Token Creator; a
# chain with delegates would still grant Token Creator on each delegate, as
# Google requires of every account in a delegation chain (see hops).
resource "airflowiam_impersonation_chain" "aws_federation" {
  source = "serviceAccount:airflow-worker@platform-prod.iam.gserviceaccount.com"
  chain  = ["aws-federation@platform-prod.iam.gserviceaccount.com"]
  role   = "roles/iam.serviceAccountOpenIdTokenCreator"
}
