# A role the Airflow workers' Google identity assumes with an ID token: no AWS
# keys anywhere. The connection below is all Airflow needs to use it. The
# service account's unique ID is looked up through the provider's google
# block; set google_service_account_unique_id when the provider has none.
resource "airflowiam_web_identity_role" "analytics" {
  name                   = "airflow-analytics"
  description            = "Assumed by Airflow workers with their Google identity"
  google_service_account = "airflow-worker@my-project.iam.gserviceaccount.com"
  audience               = "airflow-analytics"
  max_session_duration   = 7200

  managed_policy_arns = ["arn:aws:iam::aws:policy/AmazonAthenaFullAccess"]
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
  tags = {
    team = "data-platform"
  }
}

resource "airflowiam_connection" "aws_analytics" {
  connection_id = "aws_analytics"
  conn_type     = "aws"
  extra         = airflowiam_web_identity_role.analytics.airflow_connection_extra
}
