output "check" {
  description = "The token exchange's verdicts."
  value = {
    assumed_role_arn = data.airflowiam_token_exchange.path.assumed_role_arn
    aws_account_id   = data.airflowiam_token_exchange.path.aws_account_id
    claims           = data.airflowiam_token_exchange.path.claims
    steps            = [for s in data.airflowiam_token_exchange.path.steps : "${s.status}  ${s.name}: ${s.finding}"]
  }
}

output "bigquery_impersonation_chain" {
  value = airflowiam_impersonation_chain.bigquery.airflow_impersonation_chain
}

output "etl_executor_config" {
  value = airflowiam_task_identity.etl.executor_config
}

output "etl_kubernetes_annotations" {
  value = airflowiam_task_identity.etl.kubernetes_annotations
}
