output "impersonation_chain" {
  description = "The list to pass as impersonation_chain to Airflow's Google operators."
  value       = airflowiam_impersonation_chain.this.airflow_impersonation_chain
}

output "target_service_account" {
  description = "The account Airflow's tasks act as."
  value       = airflowiam_impersonation_chain.this.target_service_account
}

output "connection_id" {
  description = "ID of the Airflow connection, for gcp_conn_id."
  value       = airflowiam_connection.this.connection_id
}
