# Prove during every plan that the workers' AWS connection works end to end:
# the Google ID token, the role's trust policy, STS, and the connection's
# extra. Terraform's CI identity reaches the workers' service account with
# Token Creator on it.
data "airflowiam_token_exchange" "analytics" {
  service_account         = "airflow-worker@platform-prod.iam.gserviceaccount.com"
  airflow_connection_id   = airflowiam_connection.aws_analytics.connection_id
  gcp_impersonation_chain = airflowiam_impersonation_chain.bigquery.airflow_impersonation_chain
}

output "analytics_assumed_role" {
  value = data.airflowiam_token_exchange.analytics.assumed_role_arn
}

# In CI, the same check as a warning instead of an error: the plan reports
# the broken path (and the check's status in `terraform show -json`), but
# applies go on.
check "analytics_credential_path" {
  data "airflowiam_token_exchange" "ci" {
    service_account       = "airflow-worker@platform-prod.iam.gserviceaccount.com"
    airflow_connection_id = "aws_analytics"
    propagation_timeout   = "3m"
  }

  assert {
    condition     = data.airflowiam_token_exchange.ci.aws_account_id == "123456789012"
    error_message = "The analytics connection assumes a role in the wrong AWS account."
  }
}
