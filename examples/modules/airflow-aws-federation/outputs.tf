output "role_arn" {
  description = "ARN of the role."
  value       = airflowiam_web_identity_role.this.arn
}

output "connection_id" {
  description = "ID of the Airflow connection, for aws_conn_id."
  value       = airflowiam_connection.this.connection_id
}

output "audience" {
  description = "Audience of the workers' ID tokens."
  value       = local.audience
}

output "trust_policy" {
  description = "The role's trust policy."
  value       = airflowiam_web_identity_role.this.trust_policy
}
