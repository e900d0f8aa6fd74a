output "kubernetes_annotations" {
  description = "Annotations for the Kubernetes service account (iam.gke.io/gcp-service-account)."
  value       = airflowiam_task_identity.this.kubernetes_annotations
}

output "executor_config" {
  description = "JSON of the task's KubernetesExecutor executor_config (pod_override selecting the service account)."
  value       = airflowiam_task_identity.this.executor_config
}

output "member" {
  description = "The IAM member of the Kubernetes service account."
  value       = airflowiam_task_identity.this.member
}

output "connection_secrets" {
  description = "The secret of each of the task's connections (projects/NUMBER/secrets/ID), by connection ID, for airflowiam_connection_access."
  value       = { for id, c in airflowiam_gcp_secret_connection.this : id => c.secret_name }
}
