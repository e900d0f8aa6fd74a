# The JSON form keeps nested extras readable, for example in a secret that
# Airflow's secrets backend reads.
output "aws_analytics_connection" {
  sensitive = true
  value = provider::airflowiam::connection_json({
    conn_type = "aws"
    extra = jsonencode({
      role_arn           = "arn:aws:iam::123456789012:role/airflow-analytics"
      region_name        = "eu-west-1"
      assume_role_method = "assume_role_with_web_identity"
      assume_role_kwargs = { RoleSessionName = "airflow" }
    })
  })
}
