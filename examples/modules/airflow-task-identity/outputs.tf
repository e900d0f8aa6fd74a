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
