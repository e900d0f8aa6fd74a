# The "etl" tasks of a KubernetesExecutor run as their own Google identity.
resource "airflowiam_task_identity" "etl" {
  google_service_account         = "etl-task@analytics-prod.iam.gserviceaccount.com"
  workload_identity_pool_project = "gke-platform-prod"
  namespace                      = "airflow"
  kubernetes_service_account     = "etl-task"
}

# The Kubernetes service account the task pods run as, annotated for
# Workload Identity (with the hashicorp/kubernetes provider).
resource "kubernetes_service_account" "etl" {
  metadata {
    name        = airflowiam_task_identity.etl.kubernetes_service_account
    namespace   = airflowiam_task_identity.etl.namespace
    annotations = airflowiam_task_identity.etl.kubernetes_annotations
  }
}

# For the DAG: the task's executor_config, as JSON. In Python:
#   from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator
#   cfg = json.loads(ETL_EXECUTOR_CONFIG)
#   executor_config = {"pod_override": PodGenerator.deserialize_model_dict(cfg["pod_override"])}
output "etl_executor_config" {
  value = airflowiam_task_identity.etl.executor_config
}
